"""Test helpers shared by the suite (import as `from helpers.tshark import ...`)."""
