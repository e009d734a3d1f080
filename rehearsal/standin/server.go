package standin

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MetadataAddress is the instance metadata service's link-local address. The rehearsal serves
// its stand-in there, inside its own network namespaces, so scripts that call it unmodified
// (stop_application.sh reads the region with IMDSv2) reach it as they would on EC2.
const MetadataAddress = "169.254.169.254"

// DefaultEndpoint is the stand-in CodeDeploy API, beside the metadata service.
const DefaultEndpoint = "http://" + MetadataAddress + ":8080/"

// InstanceMetadata is what the metadata stand-in tells one instance about itself.
type InstanceMetadata struct {
	InstanceID, Region, AvailabilityZone, LocalIPv4 string
}

// Metadata is the instance metadata service with IMDSv2 required, as the fleet's launch
// template sets it (HttpTokens required): a PUT to /latest/api/token with a TTL header returns a
// token, and every metadata read must carry it; a read without one is 401, as on EC2 ("Use the
// Instance Metadata Service to access instance metadata", EC2 user guide). Instances are told
// apart by their address.
type Metadata struct {
	mu        sync.Mutex
	instances map[string]InstanceMetadata
	tokens    map[string]time.Time
}

// Add tells the service about the instance at its LocalIPv4.
func (m *Metadata) Add(i InstanceMetadata) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.instances == nil {
		m.instances = map[string]InstanceMetadata{}
	}
	m.instances[i.LocalIPv4] = i
}

func (m *Metadata) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	m.mu.Lock()
	inst, known := m.instances[host]
	m.mu.Unlock()
	if !known {
		http.Error(w, "not an instance of this rehearsal", http.StatusForbidden)
		return
	}
	if r.URL.Path == "/latest/api/token" {
		m.token(w, r)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !m.valid(r.Header.Get("X-aws-ec2-metadata-token")) {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	values := map[string]string{
		"instance-id":                        inst.InstanceID,
		"local-ipv4":                         inst.LocalIPv4,
		"hostname":                           inst.InstanceID,
		"placement/region":                   inst.Region,
		"placement/availability-zone":        inst.AvailabilityZone,
		"services/domain":                    "amazonaws.com",
		"services/partition":                 "aws",
		"instance-life-cycle":                "on-demand",
		"autoscaling/target-lifecycle-state": "InService",
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/latest/meta-data/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	if v, ok := values[path]; ok {
		fmt.Fprint(w, v)
		return
	}
	// A directory lists its entries, as IMDS does.
	var entries []string
	seen := map[string]bool{}
	for k := range values {
		if rest, ok := strings.CutPrefix(k, path); ok && (path == "" || strings.HasSuffix(path, "/")) {
			entry, _, isDir := strings.Cut(rest, "/")
			if isDir {
				entry += "/"
			}
			if !seen[entry] {
				seen[entry] = true
				entries = append(entries, entry)
			}
		}
	}
	if len(entries) == 0 {
		http.NotFound(w, r)
		return
	}
	sort.Strings(entries)
	fmt.Fprint(w, strings.Join(entries, "\n"))
}

func (m *Metadata) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ttl, err := strconv.Atoi(r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds"))
	if err != nil || ttl < 1 || ttl > 21600 {
		http.Error(w, "Bad Request: X-aws-ec2-metadata-token-ttl-seconds must be 1 to 21600", http.StatusBadRequest)
		return
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	m.mu.Lock()
	if m.tokens == nil {
		m.tokens = map[string]time.Time{}
	}
	m.tokens[token] = time.Now().Add(time.Duration(ttl) * time.Second)
	m.mu.Unlock()
	w.Header().Set("X-aws-ec2-metadata-token-ttl-seconds", strconv.Itoa(ttl))
	fmt.Fprint(w, token)
}

func (m *Metadata) valid(token string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	expiry, ok := m.tokens[token]
	return ok && time.Now().Before(expiry)
}

// Deployments is the stand-in CodeDeploy API: it answers GetDeployment, in the AWS JSON 1.1
// protocol the AWS CLI and SDKs speak, for the deployments the rehearsal has created.
type Deployments struct {
	mu   sync.Mutex
	info map[string]map[string]string
}

// Put records a deployment's fields (creator, status, ...), over those it already has.
func (d *Deployments) Put(id string, fields map[string]string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.info == nil {
		d.info = map[string]map[string]string{}
	}
	info := d.info[id]
	if info == nil {
		info = map[string]string{"deploymentId": id}
		d.info[id] = info
	}
	for k, v := range fields {
		info[k] = v
	}
}

const getDeploymentTarget = "CodeDeploy_20141006.GetDeployment"

func (d *Deployments) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	fail := func(status int, kind, message string) {
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": kind, "message": message})
	}
	if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != getDeploymentTarget {
		fail(http.StatusBadRequest, "UnknownOperationException", "the rehearsal's CodeDeploy stand-in answers GetDeployment only")
		return
	}
	var in struct {
		DeploymentID string `json:"deploymentId"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in); err != nil || in.DeploymentID == "" {
		fail(http.StatusBadRequest, "DeploymentIdRequiredException", "deploymentId is required")
		return
	}
	d.mu.Lock()
	info, ok := d.info[in.DeploymentID]
	d.mu.Unlock()
	if !ok {
		fail(http.StatusBadRequest, "DeploymentDoesNotExistException", "Deployment "+in.DeploymentID+" does not exist")
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"deploymentInfo": info})
}

// getDeployment calls GetDeployment at endpoint and returns the deployment's fields.
func getDeployment(endpoint, id string, timeout time.Duration) (map[string]string, error) {
	body, _ := json.Marshal(map[string]string{"deploymentId": id})
	req, err := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Amz-Target", getDeploymentTarget)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("Could not connect to the endpoint URL: %q (%v)", endpoint, err)
	}
	defer resp.Body.Close()
	var out struct {
		Info    map[string]string `json:"deploymentInfo"`
		Type    string            `json:"__type"`
		Message string            `json:"message"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return nil, fmt.Errorf("unreadable answer (HTTP %d): %v", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("(%s): %s", out.Type, out.Message)
	}
	return out.Info, nil
}

func jsonDeployment(info map[string]string) string {
	data, _ := json.MarshalIndent(map[string]any{"deploymentInfo": info}, "", "    ")
	return string(data)
}
