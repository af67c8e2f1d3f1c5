package memlimit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture writes a /proc/self with the given cgroup and mountinfo files
// (the mountinfo's mount points are made absolute under root) and the
// control files under root, and returns the /proc/self directory.
func fixture(t *testing.T, root, cgroup, mountinfo string, files map[string]string) string {
	t.Helper()
	self := filepath.Join(t.TempDir(), "self")
	if err := os.MkdirAll(self, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(self, "cgroup"), cgroup)
	write(filepath.Join(self, "mountinfo"), strings.ReplaceAll(mountinfo, "ROOT", root))
	for p, s := range files {
		write(filepath.Join(root, p), s)
	}
	return self
}

func TestFromCgroup(t *testing.T) {
	const v2mounts = "30 23 0:26 / ROOT/sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
	const hybrid = "31 23 0:28 / ROOT/sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n" +
		"35 31 0:32 / ROOT/sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n" +
		"41 31 0:38 / ROOT/sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
	tests := []struct {
		name      string
		cgroup    string
		mountinfo string
		files     map[string]string
		want      int64
		wantFile  string // relative to the fixture root
	}{
		{
			name:      "v2 in a cgroup namespace: the container's own memory.max",
			cgroup:    "0::/\n",
			mountinfo: v2mounts,
			files:     map[string]string{"sys/fs/cgroup/memory.max": "201326592\n"},
			want:      192 << 20, wantFile: "sys/fs/cgroup/memory.max",
		},
		{
			name:      "v2 without a namespace: the pod's limit, lower than the container's, applies",
			cgroup:    "0::/kubepods.slice/pod1/cri-abc\n",
			mountinfo: v2mounts,
			files: map[string]string{
				"sys/fs/cgroup/kubepods.slice/pod1/cri-abc/memory.max": "max\n",
				"sys/fs/cgroup/kubepods.slice/pod1/memory.max":         "134217728\n",
				"sys/fs/cgroup/kubepods.slice/memory.max":              "1073741824\n",
			},
			want: 128 << 20, wantFile: "sys/fs/cgroup/kubepods.slice/pod1/memory.max",
		},
		{
			name:      "v2 with no limit anywhere",
			cgroup:    "0::/user.slice\n",
			mountinfo: v2mounts,
			files:     map[string]string{"sys/fs/cgroup/user.slice/memory.max": "max\n"},
		},
		{
			name:      "v1 memory controller on a hybrid host",
			cgroup:    "9:name=systemd:/\n4:memory:/process_api/x\n0::/\n",
			mountinfo: hybrid,
			files: map[string]string{
				"sys/fs/cgroup/memory/process_api/x/memory.limit_in_bytes": "201326592\n",
				"sys/fs/cgroup/memory/process_api/memory.limit_in_bytes":   "9223372036854771712\n",
				"sys/fs/cgroup/memory/memory.limit_in_bytes":               "9223372036854771712\n",
				"sys/fs/cgroup/unified/memory.max":                         "1\n", // no memory controller in v2 here
			},
			want: 192 << 20, wantFile: "sys/fs/cgroup/memory/process_api/x/memory.limit_in_bytes",
		},
		{
			name:   "v1 mount rooted at the container's cgroup (no cgroup namespace)",
			cgroup: "4:memory:/docker/abc\n",
			mountinfo: "35 31 0:32 /docker/abc ROOT/sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n" +
				"36 31 0:33 /docker/abc ROOT/sys/fs/cgroup/cpu\\040and\\040more ro - cgroup cgroup rw,cpu\n",
			files: map[string]string{"sys/fs/cgroup/memory/memory.limit_in_bytes": "268435456\n"},
			want:  256 << 20, wantFile: "sys/fs/cgroup/memory/memory.limit_in_bytes",
		},
		{
			name:      "v1 unlimited",
			cgroup:    "4:memory:/\n",
			mountinfo: hybrid,
			files:     map[string]string{"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"},
		},
		{
			name:      "no memory cgroup mounted",
			cgroup:    "4:memory:/x\n",
			mountinfo: "22 1 0:21 / ROOT/proc rw - proc proc rw\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			self := fixture(t, root, tt.cgroup, tt.mountinfo, tt.files)
			got, ok, err := FromCgroup(self)
			if err != nil {
				t.Fatal(err)
			}
			if ok != (tt.want > 0) || got.Limit != tt.want {
				t.Fatalf("FromCgroup = %+v, %v; want limit %d", got, ok, tt.want)
			}
			if tt.want > 0 && got.File != filepath.Join(root, tt.wantFile) {
				t.Errorf("file = %s, want %s", got.File, filepath.Join(root, tt.wantFile))
			}
		})
	}
}

func TestFromCgroupErrors(t *testing.T) {
	if _, ok, err := FromCgroup(filepath.Join(t.TempDir(), "no-such-proc")); ok || err != nil {
		t.Errorf("without /proc: ok %v, err %v; want no limit and no error (not Linux)", ok, err)
	}
	root := t.TempDir()
	self := fixture(t, root, "0::/\n", "30 23 0:26 / ROOT/sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
		map[string]string{"sys/fs/cgroup/memory.max": "lots\n"})
	if _, _, err := FromCgroup(self); err == nil || !strings.Contains(err.Error(), "memory.max") {
		t.Errorf("a garbled memory.max: err = %v, want one naming the file", err)
	}
}

// TestFromCgroupHere reads the real files of this process: whatever the
// machine, it must not fail, and a limit it finds must be readable.
func TestFromCgroupHere(t *testing.T) {
	got, ok, err := FromCgroup("/proc/self")
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		if _, err := os.Stat(got.File); err != nil || got.Limit <= 0 {
			t.Errorf("FromCgroup = %+v: %v", got, err)
		}
	}
	t.Logf("this process: %+v (limited: %v)", got, ok)
}
