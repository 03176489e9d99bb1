"""The pass: one monitoring pass over the domain (monitors/) and storage (storage/)."""
