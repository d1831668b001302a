"""Test infrastructure shared by every package's tests: real processes on loopback ports."""
