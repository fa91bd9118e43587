"""The arq side of the queue: the restore task, job records in Redis, previews, `ArqJobQueue`."""
