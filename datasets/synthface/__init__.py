"""SynthFACE: a synthetic facial-expression dataset drawn from FACS action-unit intensities."""
