// Package conformance drives the in-repo Vault API server (test/vault-server)
// with HashiCorp's official Go client, github.com/hashicorp/vault/api, and
// checks what that client DECODES. A client nobody here wrote keeps the
// server honest: if its bodies, statuses or headers drift from Vault's, the
// client's decoding (or its error reporting) breaks here.
//
// test/integration/vault-conformance.test.ts starts the server and runs the
// compiled test binary with these variables:
//
//	VAULT_CONFORMANCE_ADDR          https://127.0.0.1:<port>
//	VAULT_CONFORMANCE_CACERT        the server's CA (PEM file)
//	VAULT_CONFORMANCE_ROOT_TOKEN    a root token
//	VAULT_CONFORMANCE_TOKEN         a token: ttl 1h, explicit max ttl 2h, read on secret/data/conformance/*
//	VAULT_CONFORMANCE_ROLE_ID       an AppRole's role_id (token ttl 20m)
//	VAULT_CONFORMANCE_SECRET_ID     its secret_id
//	VAULT_CONFORMANCE_DB_ROLE       a database role (default ttl 1h, max ttl 2h)
//	VAULT_CONFORMANCE_LEASE_TOKEN   a token that may read database/creds/* (and revoke itself)
//	VAULT_CONFORMANCE_NAMESPACE     a namespace holding secret conformance/ns-only {"in":"namespace"}
//	VAULT_CONFORMANCE_OUT           a file for what the caller checks on PostgreSQL afterwards
//
// The Vault client's own environment variables (VAULT_ADDR, VAULT_TOKEN, ...)
// are not used: the caller runs this binary with a clean environment.
package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"
)

func env(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set (run through test/integration/vault-conformance.test.ts)", name)
	}
	return v
}

// newClient is a client configured only from the variables above, with no
// retries so each status reaches the test as the server sent it.
func newClient(t *testing.T, token string) *vault.Client {
	t.Helper()
	cfg := vault.DefaultConfig()
	cfg.Address = env(t, "VAULT_CONFORMANCE_ADDR")
	cfg.MaxRetries = 0
	cfg.Timeout = 15 * time.Second
	if err := cfg.ConfigureTLS(&vault.TLSConfig{CACert: env(t, "VAULT_CONFORMANCE_CACERT")}); err != nil {
		t.Fatalf("ConfigureTLS: %v", err)
	}
	c, err := vault.NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	c.SetToken(token)
	return c
}

// responseError unwraps the client's *vault.ResponseError, failing when the
// error is something else (a transport or decoding error).
func responseError(t *testing.T, err error) *vault.ResponseError {
	t.Helper()
	if err == nil {
		t.Fatalf("expected an error response, got success")
	}
	var re *vault.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("expected *api.ResponseError, got %T: %v", err, err)
	}
	return re
}

func num(t *testing.T, v interface{}) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("expected a JSON number, got %T (%v)", v, v)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatalf("not an integer: %v", n)
	}
	return i
}

func TestKVv2GetAndPutWithCheckAndSet(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, env(t, "VAULT_CONFORMANCE_ROOT_TOKEN"))
	kv := c.KVv2("secret")

	before := time.Now().Add(-time.Minute)
	first, err := kv.Put(ctx, "conformance/app", map[string]interface{}{"api_key": "v1-key"}, vault.WithCheckAndSet(0))
	if err != nil {
		t.Fatalf("Put cas=0: %v", err)
	}
	if first.VersionMetadata == nil || first.VersionMetadata.Version != 1 {
		t.Fatalf("Put cas=0: VersionMetadata %+v, want version 1", first.VersionMetadata)
	}
	if first.VersionMetadata.CreatedTime.Before(before) || !first.VersionMetadata.DeletionTime.IsZero() || first.VersionMetadata.Destroyed {
		t.Fatalf("Put cas=0: metadata %+v", first.VersionMetadata)
	}

	// A stale check-and-set: the client reports Vault's 400 with its text.
	_, err = kv.Put(ctx, "conformance/app", map[string]interface{}{"api_key": "lost"}, vault.WithCheckAndSet(0))
	re := responseError(t, err)
	if re.StatusCode != 400 || len(re.Errors) != 1 || re.Errors[0] != "check-and-set parameter did not match the current version" {
		t.Fatalf("stale cas: status %d errors %q", re.StatusCode, re.Errors)
	}

	second, err := kv.Put(ctx, "conformance/app", map[string]interface{}{"api_key": "v2-key"}, vault.WithCheckAndSet(1))
	if err != nil {
		t.Fatalf("Put cas=1: %v", err)
	}
	if second.VersionMetadata.Version != 2 {
		t.Fatalf("Put cas=1: version %d, want 2", second.VersionMetadata.Version)
	}

	got, err := kv.Get(ctx, "conformance/app")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.Data["api_key"] != "v2-key" || got.VersionMetadata.Version != 2 {
		t.Fatalf("Get: data %v version %d", got.Data, got.VersionMetadata.Version)
	}
	if got.Raw == nil || got.Raw.LeaseID != "" || got.Raw.Renewable || got.Raw.LeaseDuration != 0 {
		t.Fatalf("Get: raw secret %+v", got.Raw)
	}

	old, err := kv.GetVersion(ctx, "conformance/app", 1)
	if err != nil {
		t.Fatalf("GetVersion(1): %v", err)
	}
	if old.Data["api_key"] != "v1-key" || old.VersionMetadata.Version != 1 {
		t.Fatalf("GetVersion(1): data %v version %d", old.Data, old.VersionMetadata.Version)
	}

	if _, err := kv.Get(ctx, "conformance/missing"); !errors.Is(err, vault.ErrSecretNotFound) {
		t.Fatalf("Get missing: %v, want ErrSecretNotFound", err)
	}
	if _, err := kv.GetVersion(ctx, "conformance/app", 9); !errors.Is(err, vault.ErrSecretNotFound) {
		t.Fatalf("GetVersion(9): %v, want ErrSecretNotFound", err)
	}

	md, err := kv.GetMetadata(ctx, "conformance/app")
	if err != nil {
		t.Fatalf("GetMetadata: %v", err)
	}
	if md.CurrentVersion != 2 || md.OldestVersion != 1 || len(md.Versions) != 2 || md.CASRequired {
		t.Fatalf("GetMetadata: %+v", md)
	}
	versions, err := kv.GetVersionsAsList(ctx, "conformance/app")
	if err != nil || len(versions) != 2 || versions[0].Version != 1 || versions[1].Version != 2 {
		t.Fatalf("GetVersionsAsList: %v %+v", err, versions)
	}

	// The Go client lists with GET ?list=true.
	list, err := c.Logical().List("secret/metadata/conformance")
	if err != nil || list == nil {
		t.Fatalf("List: %v %v", err, list)
	}
	keys, _ := list.Data["keys"].([]interface{})
	found := false
	for _, k := range keys {
		if k == "app" {
			found = true
		}
	}
	if !found {
		t.Fatalf("List keys %v, want app", keys)
	}

	// A soft-deleted latest version: no error, nil Data, a deletion time (the client's documented behaviour on Vault's 404 with metadata).
	if err := kv.Delete(ctx, "conformance/app"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	deleted, err := kv.Get(ctx, "conformance/app")
	if err != nil {
		t.Fatalf("Get deleted: %v", err)
	}
	if deleted.Data != nil || deleted.VersionMetadata == nil || deleted.VersionMetadata.DeletionTime.IsZero() || deleted.VersionMetadata.Version != 2 {
		t.Fatalf("Get deleted: data %v metadata %+v", deleted.Data, deleted.VersionMetadata)
	}
}

func TestTokenLookupSelfAndRenewSelf(t *testing.T) {
	token := env(t, "VAULT_CONFORMANCE_TOKEN")
	c := newClient(t, token)

	self, err := c.Auth().Token().LookupSelf()
	if err != nil {
		t.Fatalf("LookupSelf: %v", err)
	}
	if id, err := self.TokenID(); err != nil || id != token {
		t.Fatalf("TokenID: %q %v", id, err)
	}
	if acc, err := self.TokenAccessor(); err != nil || acc == "" {
		t.Fatalf("TokenAccessor: %q %v", acc, err)
	}
	if ttl, err := self.TokenTTL(); err != nil || ttl > time.Hour || ttl < 59*time.Minute {
		t.Fatalf("TokenTTL: %v %v, want about 1h", ttl, err)
	}
	if r, err := self.TokenIsRenewable(); err != nil || !r {
		t.Fatalf("TokenIsRenewable: %v %v", r, err)
	}
	policies, err := self.TokenPolicies()
	if err != nil || !contains(policies, "default") {
		t.Fatalf("TokenPolicies: %v %v", policies, err)
	}
	if num(t, self.Data["explicit_max_ttl"]) != 7200 || num(t, self.Data["creation_ttl"]) != 3600 {
		t.Fatalf("lookup-self data: %v", self.Data)
	}

	renewed, err := c.Auth().Token().RenewSelf(5400)
	if err != nil {
		t.Fatalf("RenewSelf(5400): %v", err)
	}
	if renewed.Auth == nil || renewed.Auth.ClientToken != token || renewed.Auth.LeaseDuration != 5400 || !renewed.Auth.Renewable || renewed.Auth.Accessor == "" {
		t.Fatalf("RenewSelf(5400): auth %+v", renewed.Auth)
	}
	if ttl, err := renewed.TokenTTL(); err != nil || ttl != 5400*time.Second {
		t.Fatalf("renewed TokenTTL: %v %v", ttl, err)
	}

	// Beyond the explicit max TTL: capped, with a warning.
	capped, err := c.Auth().Token().RenewSelf(86400)
	if err != nil {
		t.Fatalf("RenewSelf(86400): %v", err)
	}
	if capped.Auth.LeaseDuration > 7200 || capped.Auth.LeaseDuration < 7100 || len(capped.Warnings) != 1 || !strings.Contains(capped.Warnings[0], "max_ttl") {
		t.Fatalf("RenewSelf capped: lease %d warnings %q", capped.Auth.LeaseDuration, capped.Warnings)
	}

	// The token's policy does not reach this path: the client reports 403.
	_, err = c.Logical().Read("secret/data/elsewhere/x")
	if re := responseError(t, err); re.StatusCode != 403 {
		t.Fatalf("outside the policy: status %d errors %q", re.StatusCode, re.Errors)
	}
	// Inside it, a missing secret: Read gives nil, nil as it does for Vault's 404.
	if s, err := c.Logical().Read("secret/data/conformance/none"); err != nil || s != nil {
		t.Fatalf("Read missing: %v %v", s, err)
	}

	bad := newClient(t, "hvs.not-a-token")
	_, err = bad.Auth().Token().LookupSelf()
	if re := responseError(t, err); re.StatusCode != 403 || len(re.Errors) != 1 || re.Errors[0] != "permission denied" {
		t.Fatalf("unknown token: status %d errors %q", re.StatusCode, re.Errors)
	}
}

func TestAppRoleLogin(t *testing.T) {
	c := newClient(t, "")
	c.ClearToken()
	login, err := c.Logical().Write("auth/approle/login", map[string]interface{}{
		"role_id":   env(t, "VAULT_CONFORMANCE_ROLE_ID"),
		"secret_id": env(t, "VAULT_CONFORMANCE_SECRET_ID"),
	})
	if err != nil {
		t.Fatalf("approle login: %v", err)
	}
	a := login.Auth
	if a == nil || a.ClientToken == "" || a.Accessor == "" || a.LeaseDuration != 1200 || !a.Renewable || !contains(a.Policies, "default") || a.Metadata["role_name"] == "" {
		t.Fatalf("approle login: auth %+v", a)
	}
	if id, err := login.TokenID(); err != nil || id != a.ClientToken {
		t.Fatalf("login TokenID: %q %v", id, err)
	}

	c.SetToken(a.ClientToken)
	self, err := c.Auth().Token().LookupSelf()
	if err != nil {
		t.Fatalf("LookupSelf with the AppRole token: %v", err)
	}
	if acc, _ := self.TokenAccessor(); acc != a.Accessor {
		t.Fatalf("accessor %q, login said %q", acc, a.Accessor)
	}
	if md, err := self.TokenMetadata(); err != nil || md["role_name"] != a.Metadata["role_name"] {
		t.Fatalf("TokenMetadata: %v %v", md, err)
	}

	c.ClearToken()
	_, err = c.Logical().Write("auth/approle/login", map[string]interface{}{"role_id": env(t, "VAULT_CONFORMANCE_ROLE_ID"), "secret_id": "wrong"})
	if re := responseError(t, err); re.StatusCode != 400 || len(re.Errors) != 1 || re.Errors[0] != "invalid role or secret ID" {
		t.Fatalf("wrong secret_id: status %d errors %q", re.StatusCode, re.Errors)
	}
}

func TestDatabaseCredsLeaseRenewAndRevoke(t *testing.T) {
	role := env(t, "VAULT_CONFORMANCE_DB_ROLE")
	c := newClient(t, env(t, "VAULT_CONFORMANCE_ROOT_TOKEN"))

	creds, err := c.Logical().Read("database/creds/" + role)
	if err != nil || creds == nil {
		t.Fatalf("database/creds: %v %v", creds, err)
	}
	if !strings.HasPrefix(creds.LeaseID, "database/creds/"+role+"/") || creds.LeaseDuration != 3600 || !creds.Renewable {
		t.Fatalf("database/creds: lease %q duration %d renewable %v", creds.LeaseID, creds.LeaseDuration, creds.Renewable)
	}
	user, _ := creds.Data["username"].(string)
	pass, _ := creds.Data["password"].(string)
	if user == "" || pass == "" {
		t.Fatalf("database/creds data: username %q, password set %v", user, pass != "")
	}

	renewed, err := c.Sys().Renew(creds.LeaseID, 1800)
	if err != nil {
		t.Fatalf("Sys().Renew: %v", err)
	}
	if renewed.LeaseID != creds.LeaseID || renewed.LeaseDuration != 1800 || !renewed.Renewable {
		t.Fatalf("Sys().Renew: lease %q duration %d renewable %v", renewed.LeaseID, renewed.LeaseDuration, renewed.Renewable)
	}
	capped, err := c.Sys().Renew(creds.LeaseID, 36000)
	if err != nil {
		t.Fatalf("Sys().Renew capped: %v", err)
	}
	if capped.LeaseDuration > 7200 || capped.LeaseDuration < 7100 || len(capped.Warnings) != 1 {
		t.Fatalf("Sys().Renew capped: duration %d warnings %q", capped.LeaseDuration, capped.Warnings)
	}

	look, err := c.Sys().Lookup(creds.LeaseID)
	if err != nil {
		t.Fatalf("Sys().Lookup: %v", err)
	}
	if look.Data["id"] != creds.LeaseID || look.Data["renewable"] != true || num(t, look.Data["ttl"]) < 7100 {
		t.Fatalf("Sys().Lookup: %v", look.Data)
	}

	if err := c.Sys().Revoke(creds.LeaseID); err != nil {
		t.Fatalf("Sys().Revoke: %v", err)
	}
	// As Vault: revoking again (nothing to revoke) is not an error.
	if err := c.Sys().Revoke(creds.LeaseID); err != nil {
		t.Fatalf("Sys().Revoke again: %v", err)
	}
	_, err = c.Sys().Renew(creds.LeaseID, 60)
	if re := responseError(t, err); re.StatusCode != 400 || len(re.Errors) != 1 || re.Errors[0] != "lease not found" {
		t.Fatalf("renew after revoke: status %d errors %q", re.StatusCode, re.Errors)
	}

	// A second login left live, for the caller to try on PostgreSQL.
	live, err := c.Logical().Read("database/creds/" + role)
	if err != nil || live == nil {
		t.Fatalf("database/creds (live): %v %v", live, err)
	}
	out, _ := json.Marshal(map[string]string{
		"revoked_username": user,
		"live_username":    live.Data["username"].(string),
		"live_password":    live.Data["password"].(string),
		"live_lease_id":    live.LeaseID,
	})
	if err := os.WriteFile(env(t, "VAULT_CONFORMANCE_OUT"), out, 0o600); err != nil {
		t.Fatalf("write out: %v", err)
	}
}

// Vault revokes the leases a token created when the token is revoked: after
// revoke-self, the lease its database/creds read made is unknown.
func TestLeasesEndWithTheirToken(t *testing.T) {
	role := env(t, "VAULT_CONFORMANCE_DB_ROLE")
	c := newClient(t, env(t, "VAULT_CONFORMANCE_LEASE_TOKEN"))
	root := newClient(t, env(t, "VAULT_CONFORMANCE_ROOT_TOKEN"))

	creds, err := c.Logical().Read("database/creds/" + role)
	if err != nil || creds == nil || creds.LeaseID == "" {
		t.Fatalf("database/creds: %v %v", creds, err)
	}
	if look, err := root.Sys().Lookup(creds.LeaseID); err != nil || look.Data["id"] != creds.LeaseID {
		t.Fatalf("Sys().Lookup before revoke-self: %v %v", look, err)
	}
	if err := c.Auth().Token().RevokeSelf(""); err != nil {
		t.Fatalf("RevokeSelf: %v", err)
	}
	_, err = root.Sys().Lookup(creds.LeaseID)
	if re := responseError(t, err); re.StatusCode != 400 || len(re.Errors) != 1 || re.Errors[0] != "invalid lease" {
		t.Fatalf("lookup of a lease whose token was revoked: status %d errors %q", re.StatusCode, re.Errors)
	}
	_, err = root.Sys().Renew(creds.LeaseID, 60)
	if re := responseError(t, err); re.StatusCode != 400 || len(re.Errors) != 1 || re.Errors[0] != "lease not found" {
		t.Fatalf("renew of a lease whose token was revoked: status %d errors %q", re.StatusCode, re.Errors)
	}
}

func TestNamespaceHeader(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, env(t, "VAULT_CONFORMANCE_ROOT_TOKEN"))
	c.SetNamespace(env(t, "VAULT_CONFORMANCE_NAMESPACE"))
	s, err := c.KVv2("secret").Get(ctx, "conformance/ns-only")
	if err != nil || s.Data["in"] != "namespace" {
		t.Fatalf("namespaced Get: %v %v", s, err)
	}
	c.ClearNamespace()
	if _, err := c.KVv2("secret").Get(ctx, "conformance/ns-only"); !errors.Is(err, vault.ErrSecretNotFound) {
		t.Fatalf("root-namespace Get of a namespaced secret: %v, want ErrSecretNotFound", err)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
