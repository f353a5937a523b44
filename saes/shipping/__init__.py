"""`interp dictionaries ship`: converged SAEs written into data/dictionaries with their cards (saes.shipped lists
and opens them)."""
