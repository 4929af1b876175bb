"""The original KETE's other serializers for kete: ``yaml`` (:mod:`kete_serializers.yaml_serializer`),
``xml`` (:mod:`kete_serializers.xml_serializer`), ``csv`` (:mod:`kete_serializers.csv_serializer`),
``toml`` (:mod:`kete_serializers.toml_serializer`),
``properties`` (:mod:`kete_serializers.properties_serializer`), ``url-encoded-form`` and
``multipart-form`` (:mod:`kete_serializers.form_serializers`).

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
