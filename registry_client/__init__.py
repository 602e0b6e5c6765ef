"""Network identity: keys, BECKN-006 signatures, registry lookup and onboarding (see docs/internals.md)."""
