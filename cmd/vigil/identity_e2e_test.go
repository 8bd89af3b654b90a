package main

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Other names of a sensitive file: a hard link and a bind mount give
// /etc/shadow a path no rule names, and the default credential rule still
// fires, because it names the file by identity (fd.identity). Falco's
// rules, which match the path, miss both.

// sameFSDir returns a new directory, removed when the test ends, on the
// file system that holds file, so that a hard link to file can be made in
// it: below /var/tmp where that is the same file system, else beside file.
func sameFSDir(t *testing.T, file string) string {
	t.Helper()
	var want, st unix.Stat_t
	if err := unix.Stat(file, &want); err != nil {
		t.Fatal(err)
	}
	for _, parent := range []string{"/var/tmp", "/tmp", filepath.Dir(file)} {
		if err := unix.Stat(parent, &st); err == nil && st.Dev == want.Dev {
			return tempDir(t, parent)
		}
	}
	t.Fatalf("no directory on the file system of %s", file)
	return ""
}

// hardLink links file as name in dir, removed when the test ends (the link
// holds the file's content: it must not outlive the test).
func hardLink(t *testing.T, file, dir, name string) string {
	t.Helper()
	link := filepath.Join(dir, name)
	if err := os.Link(file, link); err != nil {
		t.Fatalf("linking %s: %v", file, err)
	}
	return removeAfter(t, link)
}

// identityTriggers reads /etc/shadow through a hard link and through a
// bind mount of /etc in a private mount namespace (unshare -m: the mount
// is never seen outside it), and returns the alerts they must cause.
func identityTriggers(t *testing.T, env *hostEnv) []alert {
	link := hardLink(t, "/etc/shadow", sameFSDir(t, "/etc/shadow"), "notes-"+env.token)
	runCommand(t, "cat", link)
	mnt := tempDir(t, env.tmp)
	runOK(t, nil, "unshare", "-m", "sh", "-c", "mount --bind /etc "+mnt+" && cat "+mnt+"/shadow")
	return []alert{
		{key: []string{"fd.name", "proc.cmdline"}, want: fields{
			"fd.name": link, "fd.realpath": link, "fd.identity": "/etc/shadow", "fd.nlink": 2, "proc.cmdline": "cat " + link,
		}},
		{key: []string{"fd.name", "proc.cmdline"}, want: fields{
			"fd.name": mnt + "/shadow", "fd.realpath": mnt + "/shadow", "fd.identity": "/etc/shadow",
			"proc.cmdline": "cat " + mnt + "/shadow",
		}},
	}
}

// identityBenign does the same with another file of /etc, which the rule
// does not name, and returns what an alert about it would carry.
func identityBenign(t *testing.T, env *hostEnv) []alert {
	link := hardLink(t, "/etc/hostname", sameFSDir(t, "/etc/hostname"), "host-"+env.token)
	runOK(t, nil, "cat", link)
	mnt := tempDir(t, env.tmp)
	runOK(t, nil, "unshare", "-m", "sh", "-c", "mount --bind /etc "+mnt+" && cat "+mnt+"/hostname")
	return []alert{
		{key: []string{"fd.name"}, want: fields{"fd.name": link}},
		{key: []string{"fd.name"}, want: fields{"fd.name": mnt + "/hostname"}},
	}
}
