"""Chains: the runner, local image operations, image decoding/encoding, step caching."""
