"""The original KETE's other serializers for kete: ``yaml`` (:mod:`kete_serializers.yaml_serializer`),
``xml`` (:mod:`kete_serializers.xml_serializer`), ``csv`` (:mod:`kete_serializers.csv_serializer`),
``toml`` (:mod:`kete_serializers.toml_serializer`),
``properties`` (:mod:`kete_serializers.properties_serializer`), ``url-encoded-form`` and
``multipart-form`` (:mod:`kete_serializers.form_serializers`), ``cbor``
(:mod:`kete_serializers.cbor_serializer`), ``smile`` (:mod:`kete_serializers.smile_serializer`),
``avro`` (:mod:`kete_serializers.avro_serializer`), ``protobuf``
(:mod:`kete_serializers.protobuf_serializer`; both with the original's schemas in ``schemas/``) and
``template`` (:mod:`kete_serializers.template_serializer`).

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
