"""Calendly webhooks: subscriptions, the signed-delivery receiver and its landing store.

- ``subscriptions``: create, list and delete webhook subscriptions over the
  API client, with a fresh signing key per subscription;
- ``keys``: the signing-key store (a 0600 JSON file beside the token store);
- ``signature``: ``Calendly-Webhook-Signature`` verification;
- ``receiver``: the Starlette app (``POST /webhooks/calendly``, ``GET /healthz``);
- ``landing``: the durable JSON Lines landing store and the reader the merge uses.

The receiver only lands deliveries; the source merges them into the warehouse.
"""
