"""The flows: inbound pipeline, outbound compose-sign-enqueue, delivery worker, pull
mailbox, offline bundles."""
