"""Tests of the plait command line."""
