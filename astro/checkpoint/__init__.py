"""The checkpoint contract: the model card, the file format and its reader, the resume state."""
