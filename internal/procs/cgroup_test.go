package procs

import (
	"fmt"
	"strings"
	"testing"
)

const (
	uid    = "65979e01-4cb1-4d08-9dba-45530253ff00"
	uidU   = "65979e01_4cb1_4d08_9dba_45530253ff00"
	cid    = "5148a146ffbbe8672f11494843d54b8769d2eccc677c02027fc09aba192e3c67"
	cid2   = "0e1f5c3d2b4a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
	static = "3d6a4e2f1c8b7a9e0d5f4c3b2a1e0d9c"
)

func TestParseCgroupPath(t *testing.T) {
	tests := []struct {
		name string
		path string
		want CgroupRef
		ok   bool
	}{
		// systemd driver
		{"systemd burstable containerd",
			"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope",
			CgroupRef{PodUID: uid, QoS: Burstable, ContainerID: cid, Runtime: Containerd}, true},
		{"systemd besteffort cri-o",
			"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidU + ".slice/crio-" + cid + ".scope",
			CgroupRef{PodUID: uid, QoS: BestEffort, ContainerID: cid, Runtime: CRIO}, true},
		{"systemd guaranteed has no QoS segment",
			"/kubepods.slice/kubepods-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope",
			CgroupRef{PodUID: uid, QoS: Guaranteed, ContainerID: cid, Runtime: Containerd}, true},
		{"systemd docker scope",
			"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/docker-" + cid + ".scope",
			CgroupRef{PodUID: uid, QoS: Burstable, ContainerID: cid, Runtime: Docker}, true},
		{"cri-o conmon is the monitor, not the container",
			"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/crio-conmon-" + cid + ".scope",
			CgroupRef{PodUID: uid, QoS: Burstable, ContainerID: cid, Runtime: CRIO, Conmon: true}, true},
		{"process in the pod cgroup itself",
			"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice",
			CgroupRef{PodUID: uid, QoS: Burstable}, true},
		{"sub-cgroup of a container belongs to it",
			"/kubepods.slice/kubepods-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope/init.scope",
			CgroupRef{PodUID: uid, QoS: Guaranteed, ContainerID: cid, Runtime: Containerd}, true},
		// cgroupfs driver
		{"cgroupfs burstable",
			"/kubepods/burstable/pod" + uid + "/" + cid,
			CgroupRef{PodUID: uid, QoS: Burstable, ContainerID: cid}, true},
		{"cgroupfs besteffort",
			"/kubepods/besteffort/pod" + uid + "/" + cid,
			CgroupRef{PodUID: uid, QoS: BestEffort, ContainerID: cid}, true},
		{"cgroupfs guaranteed",
			"/kubepods/pod" + uid + "/" + cid,
			CgroupRef{PodUID: uid, QoS: Guaranteed, ContainerID: cid}, true},
		{"cgroupfs cri-o names",
			"/kubepods/burstable/pod" + uid + "/crio-" + cid,
			CgroupRef{PodUID: uid, QoS: Burstable, ContainerID: cid, Runtime: CRIO}, true},
		// nested nodes (kind)
		{"kind with systemd driver",
			"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope",
			CgroupRef{PodUID: uid, QoS: Burstable, ContainerID: cid, Runtime: Containerd}, true},
		{"kind guaranteed",
			"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope",
			CgroupRef{PodUID: uid, QoS: Guaranteed, ContainerID: cid, Runtime: Containerd}, true},
		{"docker-in-docker node with cgroupfs",
			"/system.slice/docker-" + cid2 + ".scope/kubepods/besteffort/pod" + uid + "/" + cid,
			CgroupRef{PodUID: uid, QoS: BestEffort, ContainerID: cid}, true},
		{"cgroup namespace relative path",
			"/../../kubepods/burstable/pod" + uid + "/" + cid,
			CgroupRef{PodUID: uid, QoS: Burstable, ContainerID: cid}, true},
		// runtime/driver mismatch
		{"mismatch containerd",
			"/system.slice/containerd.service/kubepods-besteffort-pod" + uidU + ".slice:cri-containerd:" + cid,
			CgroupRef{PodUID: uid, QoS: BestEffort, ContainerID: cid, Runtime: Containerd}, true},
		{"mismatch cri-o guaranteed",
			"/system.slice/crio.service/kubepods-pod" + uidU + ".slice:crio:" + cid,
			CgroupRef{PodUID: uid, QoS: Guaranteed, ContainerID: cid, Runtime: CRIO}, true},
		// static pods
		{"static pod systemd",
			"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + static + ".slice/cri-containerd-" + cid + ".scope",
			CgroupRef{PodUID: static, QoS: Burstable, ContainerID: cid, Runtime: Containerd}, true},
		{"static pod cgroupfs",
			"/kubepods/burstable/pod" + static + "/" + cid,
			CgroupRef{PodUID: static, QoS: Burstable, ContainerID: cid}, true},
		{"uppercase UID is canonicalised",
			"/kubepods/pod" + strings.ToUpper(uid) + "/" + cid,
			CgroupRef{PodUID: uid, QoS: Guaranteed, ContainerID: cid}, true},
		// not pods
		{"host process", "/", CgroupRef{}, false},
		{"systemd service", "/system.slice/sshd.service", CgroupRef{}, false},
		{"user session", "/user.slice/user-1000.slice/session-3.scope", CgroupRef{}, false},
		{"kubepods root", "/kubepods.slice", CgroupRef{}, false},
		{"QoS slice", "/kubepods.slice/kubepods-burstable.slice", CgroupRef{}, false},
		{"cgroupfs QoS dir", "/kubepods/burstable", CgroupRef{}, false},
		{"empty", "", CgroupRef{}, false},
		// malformed
		{"truncated container ID",
			"/kubepods/burstable/pod" + uid + "/" + cid[:63], CgroupRef{}, false},
		{"truncated UID",
			"/kubepods/burstable/pod" + uid[:35] + "/" + cid, CgroupRef{}, false},
		{"truncated slice",
			"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU[:20], CgroupRef{}, false},
		{"unknown scope prefix",
			"/kubepods.slice/kubepods-pod" + uidU + ".slice/rkt-" + cid + ".scope", CgroupRef{}, false},
		{"pod segment not under kubepods",
			"/system.slice/pod" + uid + "/" + cid, CgroupRef{}, false},
		{"substring is not a segment match",
			"/notkubepods/burstable/pod" + uid + "/" + cid, CgroupRef{}, false},
		{"slice prefix must be whole",
			"/kubepods.slice/xkubepods-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope", CgroupRef{}, false},
		{"uppercase container ID",
			"/kubepods/pod" + uid + "/" + strings.ToUpper(cid), CgroupRef{}, false},
		{"mismatch with unknown runtime",
			"/system.slice/x.service/kubepods-pod" + uidU + ".slice:rkt:" + cid, CgroupRef{}, false},
		{"mismatch missing id",
			"/system.slice/x.service/kubepods-pod" + uidU + ".slice:cri-containerd", CgroupRef{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseCgroupPath(tt.path)
			if ok != tt.ok || got != tt.want {
				t.Errorf("ParseCgroupPath(%q) = %+v, %v; want %+v, %v", tt.path, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestParseProcCgroup(t *testing.T) {
	v1Pod := "/kubepods/burstable/pod" + uid + "/" + cid
	v2Pod := "/kubepods.slice/kubepods-pod" + uidU + ".slice/cri-containerd-" + cid2 + ".scope"
	tests := []struct {
		name     string
		content  string
		wantCID  string
		wantLine string
		ok       bool
	}{
		{"pure v2", "0::" + v2Pod + "\n", cid2, "0", true},
		{"v1 with name=systemd", "12:pids:/\n9:name=systemd:" + v1Pod + "\n4:memory:" + v1Pod + "\n", cid, "name=systemd", true},
		{"v1 pids when systemd is elsewhere", "12:pids:" + v1Pod + "\n9:name=systemd:/user.slice\n", cid, "pids", true},
		{"v1 other controller as last resort", "4:memory:" + v1Pod + "\n1:cpu,cpuacct:/\n", cid, "memory", true},
		{"hybrid prefers v2 when it is in a pod", "9:name=systemd:" + v1Pod + "\n0::" + v2Pod + "\n", cid2, "0", true},
		{"hybrid falls back to v1 when v2 is not a pod", "9:name=systemd:" + v1Pod + "\n0::/init.scope\n", cid, "name=systemd", true},
		{"host process", "0::/system.slice/sshd.service\n", "", "", false},
		{"garbage", "this is not a cgroup file", "", "", false},
		{"empty", "", "", "", false},
		{"no trailing newline", "0::" + v2Pod, cid2, "0", true},
		// The kernel lists hierarchies by descending ID, so on a v1 host
		// with many controllers the preferred lines come last.
		{"v1 with many controllers", manyControllers(v1Pod, 16) + "1:name=systemd:" + v1Pod + "\n0::/\n", cid, "name=systemd", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, line, ok := ParseProcCgroup([]byte(tt.content))
			if ok != tt.ok || ref.ContainerID != tt.wantCID {
				t.Fatalf("ParseProcCgroup() = %+v, %v; want container %q, %v", ref, ok, tt.wantCID, tt.ok)
			}
			if ok {
				got := line.Hierarchy
				if got != "0" {
					got = line.Controllers
				}
				if got != tt.wantLine {
					t.Errorf("chose line %+v, want %q", line, tt.wantLine)
				}
			}
		})
	}
}

// manyControllers returns n v1 controller lines, IDs n+1 down to 2, all
// at path.
func manyControllers(path string, n int) string {
	var b strings.Builder
	for i := n + 1; i >= 2; i-- {
		fmt.Fprintf(&b, "%d:ctrl%d:%s\n", i, i, path)
	}
	return b.String()
}

func FuzzParseCgroupPath(f *testing.F) {
	for _, s := range []string{
		"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope",
		"/kubepods/pod" + uid + "/" + cid,
		"/system.slice/containerd.service/kubepods-besteffort-pod" + uidU + ".slice:cri-containerd:" + cid,
		"/", "", ":", "::", "/kubepods/pod", "kubepods-pod.slice", "/kubepods/burstable/pod" + static,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		ref, ok := ParseCgroupPath(path)
		if !ok {
			if ref != (CgroupRef{}) {
				t.Fatalf("not ok but returned %+v", ref)
			}
			return
		}
		if _, valid := canonicalUID(ref.PodUID); !valid || strings.ToLower(ref.PodUID) != ref.PodUID {
			t.Fatalf("invalid pod UID %q from %q", ref.PodUID, path)
		}
		if ref.ContainerID != "" && !isContainerID(ref.ContainerID) {
			t.Fatalf("invalid container ID %q from %q", ref.ContainerID, path)
		}
		if !strings.Contains(path, "kubepods") {
			t.Fatalf("%q has no kubepods segment but parsed as %+v", path, ref)
		}
		_, _, _ = ParseProcCgroup([]byte("0::" + path + "\n1:name=systemd:" + path))
	})
}

func BenchmarkParseCgroupPath(b *testing.B) {
	p := "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope"
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := ParseCgroupPath(p); !ok {
			b.Fatal("no parse")
		}
	}
}

func BenchmarkParseProcCgroupHostProcess(b *testing.B) {
	c := []byte("0::/system.slice/sshd.service\n")
	b.ReportAllocs()
	for b.Loop() {
		ParseProcCgroup(c)
	}
}
