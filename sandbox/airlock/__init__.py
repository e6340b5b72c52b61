"""The way out: review, release with an Ed25519-signed manifest, download (art. 39)."""
