"""How a process is put together: its shared clients (`services`), the arq worker that runs
jobs and hosts the watcher (`worker`), and the embedded Redis of `photo-restore up`.

Wiring only: the packages wired here (`jobs`, `watch`, `pipeline`, `storage`, `inference`)
never import it; `web` and `commands` do.
"""
