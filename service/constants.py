"""Every Redis key, queue name and shared default in one place.

Keys are grouped under one prefix so an operator can share a Redis with other apps and
find (or flush) ours with one pattern.
"""

from __future__ import annotations

PREFIX = "photo-restore"

# arq's own queue; a separate name keeps us clear of other arq apps on the same Redis.
QUEUE_NAME = f"{PREFIX}:queue"
RESTORE_FUNCTION = "restore_job"  # the arq function name the worker registers the task under

# Job records: one JSON string per job, plus sorted sets (score = created time) for listing.
JOB_KEY = f"{PREFIX}:job:"  # + job id
JOBS_ALL = f"{PREFIX}:jobs"  # zset of every job id
JOBS_BY_STATUS = f"{PREFIX}:jobs:status:"  # + status, zset
JOBS_TO_REVIEW = f"{PREFIX}:jobs:to-review"  # zset: done and not yet approved or rejected
JOB_EVENTS_CHANNEL = f"{PREFIX}:events"  # pub/sub, one message per job change
JOB_BY_SOURCE = f"{PREFIX}:source:"  # + source path -> newest job id
PREVIEW_KEY = f"{PREFIX}:preview:"  # + job id + ":" + slot -> small JPEG (jobs.previews)
PREVIEW_TTL = (
    30 * 24 * 3600
)  # previews may expire: the history outlives them, photos never need them
THUMB_KEY = f"{PREFIX}:thumb:"  # + digest of path, version and size -> JPEG (web.images)
THUMB_TTL = 24 * 3600

# Watcher state.
LEDGER_KEY = f"{PREFIX}:ledger"  # hash: file key -> JSON {etag,size,seen,state}
FOLDER_ETAGS_KEY = f"{PREFIX}:folder-etags"  # hash: folder path -> etag last listed
WATCH_LOCK_KEY = f"{PREFIX}:watch-lock"  # one poller at a time across workers
WATCH_TRIGGER_KEY = f"{PREFIX}:watch-trigger"  # list of folders to look at now (webhooks)
QUEUE_PAUSED_KEY = f"{PREFIX}:paused"
# arq's health-check key of a worker; + host name: a probe checks its own pod's worker.
WORKER_HEALTH_KEY = f"{QUEUE_NAME}:health-check:"

# Inference.
PROVIDER_SLOTS_KEY = f"{PREFIX}:provider-slots:"  # + provider, zset of in-flight call leases
MAPPING_CACHE_KEY = f"{PREFIX}:mapping:"  # + model id
STEP_CACHE_KEY = f"{PREFIX}:step-cache:"  # + digest
STEP_CACHE_INDEX = f"{PREFIX}:step-cache-index"  # zset digest -> last use, for eviction
STEP_CACHE_BYTES = f"{PREFIX}:step-cache-index:bytes"  # running total, bounded by CACHE_MAX_MB
# Clips (MBs each) get a cache of their own, so one clip cannot evict a hundred image results.
CLIP_CACHE_KEY = f"{PREFIX}:clip-cache:"  # + digest
CLIP_CACHE_INDEX = f"{PREFIX}:clip-cache-index"
CLIP_CACHE_BYTES = f"{PREFIX}:clip-cache-index:bytes"
# How long a paid clip request (its ticket) is worth resuming instead of buying again; fal and
# WaveSpeed keep outputs for days, the margin covers a job that waited out a long outage.
CLIP_TICKET_TTL = 24 * 3600

# Web sessions and sign-in throttling (service.web.sessions, service.web.throttle).
SESSION_KEY = f"{PREFIX}:session:"  # + session id -> password fingerprint; deleted on sign-out
LOGIN_FAILURES_KEY = f"{PREFIX}:login-failures:"  # + client address -> failures in the window

# Defaults that are not user settings.
STATE_DIR_NAME = ".photo-restore"  # local state under DATA_DIR; never served, never watched
TEMP_PREFIX = ".restore-"
TEMP_SUFFIX = ".tmp"
FAILED_SUFFIX = ".failed.txt"
DEFAULT_SETTLE_SECONDS = 5.0
FULL_RESCAN_EVERY = 10  # polls; the safety net behind etag short-cuts
JOB_MAX_TRIES = 5
JOB_TIMEOUT_SECONDS = 15 * 60  # at least; longer when a chain's model calls may take longer
JOB_LOCAL_SECONDS = 5 * 60  # a job's allowance for local steps, download and writes
# The largest clip a provider may hand us: a 10 s 1080p clip is ~20 MB; anything past this is
# refused from its Content-Length, or while it streams, before it can fill a worker's memory.
CLIP_MAX_BYTES = 200 * 1024 * 1024
