"""Redis plumbing both services use: URLs (standalone, Sentinel, Cluster; ``urls``), the
connection classes (``nodes``) and the clients built from the settings (``connection``).

Modules here import the third-party ``redis`` package absolutely (``import redis...``), which
Python resolves to the top-level package, never to this one."""
