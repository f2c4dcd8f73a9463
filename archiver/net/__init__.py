"""The wire: recorded HTTP connections, the address policy, certificates.

Takes in a URL to reach (from capture, or a TSA request from attest); hands on the exact bytes
sent and received, the peer address, DNS and TLS facts, with secrets redacted.
"""
