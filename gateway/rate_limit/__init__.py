"""Token-bucket rate limits of the gateway: per principal and per client address, by route
class (`auth`, `write`, `read`); buckets in memory or, shared by every replica, in Redis."""
