"""``make run``: the whole gateway on one machine, without Docker (``python -m devstack``)."""
