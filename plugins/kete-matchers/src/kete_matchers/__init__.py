"""KETE's matchers for kete: ``list``, ``glob``, ``regex`` and ``sql`` (:mod:`kete_matchers.matchers`).

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
