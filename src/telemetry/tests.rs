//! The manager with a fake clock: matching, subscription ids, throttling, eviction, errors.
