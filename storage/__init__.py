"""Files the project writes whole or not at all, and the checkpoints, records and progress files of training.

``storage.files`` (torch-free, numpy-free): atomic writes, files replaced together, output-folder checks.
``storage.checkpoints``: checkpoints in the original's format with their JSON records, progress files,
and the fingerprints that tell whether a split was trained with the same options.
``storage.stopping`` (torch-free): Ctrl-C and SIGTERM as exceptions, so that a command abandons a write whole
and says in one line what is kept; every command's exit statuses.
``storage.notices`` (torch-free): the project's warnings said in its voice, one line per cause and run.
"""
