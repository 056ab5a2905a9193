"""Batch prediction: reading a catalogue, labelling it in resumable chunks, the output table and shards."""
