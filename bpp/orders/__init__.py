"""Orders: flexibility contracts from draft to settlement, the capacity they hold, and their history."""
