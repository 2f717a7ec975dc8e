"""The user's own files: ignore patterns (``patterns``), which files a step takes and where
they go (``files``), their NAR hashes (``nar``), and the store paths the build reads them from
(``tree``). Lock and plan stages of the data flow.
"""
