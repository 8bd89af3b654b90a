// Package containerdtest runs a real containerd for tests: it starts
// Debian's containerd by hand with a configuration, root, state and socket of
// its own (cgroupfs driver, overlayfs snapshotter or native where overlay
// does not work), builds a small OCI image from busybox-static without any
// registry, imports it with ctr, and runs and execs into containers with
// `ctr run` and `ctr task exec`.
//
// A test package starts one daemon for all its tests through Shared, and
// stops it in TestMain:
//
//	var containerd containerdtest.Shared
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		if err := containerd.Stop(); err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			code = 1
//		}
//		os.Exit(code)
//	}
//
//	func TestSomething(t *testing.T) {
//		d := containerd.Daemon(t) // skips without root or commands; fails in CI
//		c := d.MustRun(t, containerdtest.ContainerSpec{Labels: ...})
//		out, err := c.ExecAs(ctx, containerdtest.UserName, "id", "-u")
//		// c.ID, c.PID, c.CgroupPath, c.CgroupID identify it.
//		...
//	}
//
// Containers started through MustRun are removed when the test ends (those
// of RunContainer by Container.Remove); Stop removes whatever is left in
// any namespace, stops the daemon by its PID, unmounts what it left and
// removes its directory. The daemon is started with a parent-death signal,
// so a crashing test binary does not leave it running (its containers end
// when their hour-long sleep does).
package containerdtest
