"""What the tests share and are not tests: the fixture site, the local TSA, the stand-ins
for YouTube and Facebook, the CLI runner, data tables. Fixtures stay in ``conftest.py``
files and build on these modules."""
