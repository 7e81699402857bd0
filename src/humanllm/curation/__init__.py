"""Curation: clean, label, synthesize users / scenarios / social QA, judge, assemble the genome."""
