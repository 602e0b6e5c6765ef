"""A generic Beckn client for utility systems: any request, any domain, callbacks listed per transaction."""
