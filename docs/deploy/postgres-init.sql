-- One database per participant (docs/deploy/compose.yaml); replicas of one participant share theirs.
CREATE DATABASE registry;
CREATE DATABASE bap;
CREATE DATABASE bpp;
