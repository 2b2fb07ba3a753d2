"""Trust: this node's signing keys and the partner directory of pinned keys.

Trust is pinned, never discovered (PROTOCOL.md §2): a key is accepted only if a partner file
lists it, and a partner file that does not add up stops the node.
"""
