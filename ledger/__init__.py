"""The verifiable core of tradeledger: canonical bytes, hashes, signatures, Merkle proofs,
block validation and replay. Pure: no storage, no network, no web framework."""
