"""The utility side of degflex: grid stress in, offers compared, operators deciding, orders tracked."""
