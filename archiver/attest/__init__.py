"""A sealed bag in; timestamps, signatures and custody events over its tag manifests out.

Order inside: keys, anchors (the folder layout), custody (records events, calls no one) and tsa
are leaves over bag.reader and base; timestamp uses tsa, anchors and custody; tokencheck uses
tsa and anchors; signing uses keys, timestamp, tokencheck, anchors and custody (a signature is
timestamped, and custody records every event); signaturecheck reads what signing wrote, with
tokencheck for the signature's tokens.
"""
