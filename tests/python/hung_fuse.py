"""A FUSE filesystem whose statfs never answers, like a dead NFS or sshfs server.

Run with a Python that has fusepy (Debian's python3-fusepy installs it as the module `fusepy`;
pip's as `fuse`): `/usr/bin/python3 hung_fuse.py MOUNTPOINT`.
It stays in the foreground until killed; every other operation answers at once.
"""
import errno
import stat
import sys
import threading
import time

try:
    from fusepy import FUSE, FuseOSError, Operations
except ImportError:
    from fuse import FUSE, FuseOSError, Operations


class Hung(Operations):
    def getattr(self, path, fh=None):
        if path != "/":
            raise FuseOSError(errno.ENOENT)
        now = time.time()
        return {"st_mode": stat.S_IFDIR | 0o755, "st_nlink": 2, "st_atime": now, "st_mtime": now, "st_ctime": now}

    def readdir(self, path, fh):
        return [".", ".."]

    def statfs(self, path):
        threading.Event().wait()  # never answers


if __name__ == "__main__":
    FUSE(Hung(), sys.argv[1], foreground=True, nothreads=False, fsname="hungfs", subtype="hung")
