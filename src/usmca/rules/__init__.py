"""The USMCA rule corpus: typed grammar, GN 11(o) parser, corpus build and validation, automotive rules."""
