"""The queue, the restore task, the worker and the job records."""
