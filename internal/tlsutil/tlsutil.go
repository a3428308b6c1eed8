// Package tlsutil builds the TLS configurations of a Chorus node: mutual TLS between
// nodes (both sides present a certificate issued by the cluster's CA for the cluster's
// name) and TLS on the client ports. Certificates and the CA bundle are files that are
// re-read when they change, so certificates can be rotated without a restart: put the
// new CA in the bundle next to the old one on every node, replace each node's
// certificate, then drop the old CA.
//
// A node certificate names its cluster in a URI subject alternative name
// chorus://CLUSTER/node/ID; a peer whose certificate names another cluster is
// refused even if the same CA issued it.
package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// URIScheme is the scheme of the URI SAN that names a certificate's cluster.
const URIScheme = "chorus"

// ClusterURI returns the URI SAN of node id's certificate in cluster.
func ClusterURI(cluster, id string) *url.URL {
	return &url.URL{Scheme: URIScheme, Host: cluster, Path: "/node/" + id}
}

// Files names the PEM files of a node's TLS identity.
type Files struct {
	Cert, Key string // the node's certificate (chain) and private key
	CA        string // the CA bundle peers' certificates must chain to (one or more certificates)
}

// recheck is how often, at most, the files' modification times are checked.
const recheck = time.Second

// Source serves the current certificate and CA pool, re-reading the files when their
// modification time changes. Safe for concurrent use.
type Source struct {
	files   Files
	cluster string

	mu        sync.Mutex
	checked   time.Time
	stamp     string // modification times of the files last loaded
	cert      *tls.Certificate
	pool      *x509.CertPool
	lastError error
}

// NewSource loads the files once (an error here is fatal: a node must not start with
// a broken identity) and returns a Source for cluster.
func NewSource(files Files, cluster string) (*Source, error) {
	if files.Cert == "" || files.Key == "" {
		return nil, errors.New("tls: a certificate and a key are both required")
	}
	s := &Source{files: files, cluster: cluster}
	if err := s.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Source) stampNow() string {
	var b strings.Builder
	for _, f := range []string{s.files.Cert, s.files.Key, s.files.CA} {
		if f == "" {
			continue
		}
		if st, err := os.Stat(f); err == nil {
			fmt.Fprintf(&b, "%s:%d:%d;", f, st.ModTime().UnixNano(), st.Size())
		}
	}
	return b.String()
}

// reload reads the files if they changed since the last load. A failed reload keeps
// the previous identity (a half-written file during a rotation must not take the node
// down) and is reported by Err.
func (s *Source) reload() error {
	stamp := s.stampNow()
	if stamp == s.stamp && s.cert != nil {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(s.files.Cert, s.files.Key)
	if err != nil {
		return fmt.Errorf("tls: loading %s and %s: %w", s.files.Cert, s.files.Key, err)
	}
	var pool *x509.CertPool
	if s.files.CA != "" {
		pem, err := os.ReadFile(s.files.CA)
		if err != nil {
			return fmt.Errorf("tls: reading the CA bundle: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("tls: %s holds no PEM certificate", s.files.CA)
		}
	}
	s.cert, s.pool, s.stamp = &cert, pool, stamp
	return nil
}

// current returns the identity, re-reading changed files at most once a second.
func (s *Source) current() (*tls.Certificate, *x509.CertPool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now := time.Now(); now.Sub(s.checked) >= recheck {
		s.checked = now
		s.lastError = s.reload()
	}
	return s.cert, s.pool
}

// Err returns the error of the last reload attempt, nil if it succeeded.
func (s *Source) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastError
}

// verifyPeer checks a peer's certificate chain against the current CA pool and that
// it names this cluster.
func (s *Source) verifyPeer(cs tls.ConnectionState, usage x509.ExtKeyUsage) error {
	_, pool := s.current()
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: the peer presented no certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return fmt.Errorf("tls: peer certificate not issued by this cluster's CA: %w", err)
	}
	for _, u := range leaf.URIs {
		if u.Scheme == URIScheme && u.Host == s.cluster {
			return nil
		}
	}
	return fmt.Errorf("tls: peer certificate is not for cluster %q", s.cluster)
}

// PeerServer is the TLS configuration of the node-to-node server: it requires a
// client certificate of this cluster.
func (s *Source) PeerServer() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			c, _ := s.current()
			return c, nil
		},
		// The chain is checked in VerifyConnection against the current pool, so that a
		// rotated bundle applies without a restart.
		ClientAuth: tls.RequireAnyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return s.verifyPeer(cs, x509.ExtKeyUsageClientAuth)
		},
	}
}

// PeerClient is the TLS configuration for dialing another node: it presents this
// node's certificate and accepts only a server certificate of this cluster. Host
// names are not checked (peers are addressed by whatever address gossip carries);
// the cluster URI and the CA take their place.
func (s *Source) PeerClient() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c, _ := s.current()
			return c, nil
		},
		InsecureSkipVerify: true, // replaced by VerifyConnection below
		VerifyConnection: func(cs tls.ConnectionState) error {
			return s.verifyPeer(cs, x509.ExtKeyUsageServerAuth)
		},
	}
}

// ClientServer is the TLS configuration of the client ports (RESP and HTTP): this
// node's certificate, no client certificate asked for (clients authenticate with
// AUTH or a bearer token).
func (s *Source) ClientServer() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			c, _ := s.current()
			return c, nil
		},
	}
}

// ClientPool returns a pool holding the certificates of a CA bundle file, for
// clients (the CLI, tests) that connect to a TLS client port.
func ClientPool(caFile string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	return pool, nil
}
