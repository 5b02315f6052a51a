"""preserver, the application: report in, evidence out.

Each subpackage is one capability; the layers run one way (``pyproject.toml``,
``[tool.importlinter]``):

- ``cli/``: the command line; ``serve`` (the scheduler) and ``doctor`` beside it;
- ``export/``, ``verify/``, ``views/``: evidence packages, verification, read models;
- ``capture/``, ``audit/``, ``ingest/``: the run, the availability re-checks, reports in;
- ``archive``: the open archive (config, database, blob store, key);
- ``custody/``: custody events, the Merkle ledger, checkpoints and timestamps;
- ``db/``: engine, migrations, models, the job queue; ``net``: the one HTTP client,
  built from ``[network]``;
- ``config`` (with ``config_kinds``), ``errors``, ``concurrency``, ``version``,
  ``_lazy``: shared by all.

Captures and probes are ``workers``'; blobs are ``storage``'s; manifests, proofs and
packages are ``manifests``'. See ``docs/design.md``.
"""
