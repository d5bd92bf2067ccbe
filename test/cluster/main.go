// Command portcullis-cluster runs a real kube-apiserver backed by an embedded
// etcd on loopback, for Portcullis's end-to-end tests. There are no nodes and
// no controller-manager: Pods are never scheduled, admission is what is tested.
//
// It writes an admin kubeconfig (static bearer token, group system:masters),
// prints "READY <server-url>" on stdout once /readyz answers ok, and shuts
// down apiserver then etcd on SIGTERM/SIGINT, removing its data directory.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"

	_ "k8s.io/component-base/logs/json/register"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "path to write the admin kubeconfig to (required)")
	dataDir := flag.String("data-dir", "", "working directory (default: a new temporary directory, removed on exit)")
	port := flag.Int("port", 0, "apiserver secure port on 127.0.0.1 (0: pick a free one)")
	verbosity := flag.Int("v", 0, "apiserver log verbosity")
	flag.Parse()
	// Once the test runner that reads our output is gone, a log write must not
	// kill us with SIGPIPE before etcd is closed and the data dir removed.
	signal.Ignore(syscall.SIGPIPE)
	if *kubeconfig == "" {
		fatalf("--kubeconfig is required")
	}
	if err := run(*kubeconfig, *dataDir, *port, *verbosity); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "portcullis-cluster: "+format+"\n", args...)
	os.Exit(1)
}

func run(kubeconfigPath, dataDir string, port, verbosity int) error {
	ownDir := dataDir == ""
	if ownDir {
		d, err := os.MkdirTemp("", "portcullis-cluster-")
		if err != nil {
			return err
		}
		dataDir = d
		defer os.RemoveAll(d)
	}
	pkiDir := filepath.Join(dataDir, "pki")
	if err := os.MkdirAll(pkiDir, 0o700); err != nil {
		return err
	}

	pki, err := writePKI(pkiDir)
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}

	etcd, etcdURL, err := startEtcd(filepath.Join(dataDir, "etcd"))
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	defer etcd.Close()

	if port == 0 {
		if port, err = freePort(); err != nil {
			return err
		}
	}
	server := "https://127.0.0.1:" + strconv.Itoa(port)

	cmd := app.NewAPIServerCommand() // installs the SIGTERM/SIGINT handler
	cmd.SetArgs([]string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + pkiDir,
		"--tls-cert-file=" + pki.servingCert,
		"--tls-private-key-file=" + pki.servingKey,
		"--client-ca-file=" + pki.caCert,
		"--token-auth-file=" + pki.tokenFile,
		"--authorization-mode=RBAC",
		// As every real cluster (kubeadm, kind) runs it: privileged Pods are
		// then refused by policy, not by the apiserver's own default.
		"--allow-privileged=true",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + pki.saPub,
		"--service-account-signing-key-file=" + pki.saKey,
		"--service-cluster-ip-range=10.0.0.0/24",
		// No controller-manager creates each namespace's default ServiceAccount,
		// so the ServiceAccount admission plugin would reject every Pod.
		"--disable-admission-plugins=ServiceAccount",
		"--endpoint-reconciler-type=none",
		"--profiling=false",
		"--v=" + strconv.Itoa(verbosity),
	})
	done := make(chan error, 1)
	go func() { done <- cmd.Execute() }()
	go exitWithParent()

	readyCtx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := waitReady(readyCtx, server, pki, done); err != nil {
		return err
	}
	if err := writeKubeconfig(kubeconfigPath, server, pki); err != nil {
		return err
	}
	fmt.Printf("READY %s\n", server)

	// Returns once the apiserver has shut down after a signal.
	if err := <-done; err != nil {
		return fmt.Errorf("kube-apiserver: %w", err)
	}
	return nil
}

// exitWithParent shuts down cleanly when the process that started us is gone
// (a test runner killed on a timeout), so no apiserver is left behind. Not
// when a signal already started the shutdown: a second one makes the
// apiserver's handler exit at once, skipping etcd's close and the cleanup.
func exitWithParent() {
	var signalled atomic.Bool
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		signalled.Store(true)
	}()
	parent := os.Getppid()
	for range time.Tick(time.Second) {
		if signalled.Load() {
			return
		}
		if os.Getppid() != parent {
			_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
			return
		}
	}
}

func startEtcd(dir string) (*embed.Etcd, string, error) {
	clientPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	peerPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	cfg := embed.NewConfig()
	cfg.Name = "portcullis"
	cfg.Dir = dir
	cfg.LogLevel = "error"
	cfg.UnsafeNoFsync = true // throwaway test data
	clientURL := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(clientPort)}
	peerURL := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(peerPort)}
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", err
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, clientURL.String(), nil
	case err := <-e.Err():
		e.Close()
		return nil, "", err
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, "", fmt.Errorf("not ready after 60s")
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitReady(ctx context.Context, server string, pki *pkiFiles, done <-chan error) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pki.caPEM)
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, server+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+pki.token)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-done:
			return fmt.Errorf("kube-apiserver exited before ready: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver not ready: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
