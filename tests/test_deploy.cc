// Structural checks of the Kubernetes manifests in deploy/kubernetes (gateway and sidecar): the
// kinds are there, probes hit /healthz and /readyz on the port the admin listener really uses,
// the termination grace covers the drain, HPA/PDB/Service/NetworkPolicy select the gateway pods,
// only the gateway may leave on 443, the CA Secret ends up where PROMPTGATE_HOME points, and the
// agent's HTTPS_PROXY / NODE_EXTRA_CA_CERTS point at the sidecar and the mounted certificate.
// Each check returns the problems it finds, so a mutated manifest can be shown to fail.
// (tests/deploy/deploy_test.sh runs the binary on the same files: --check-config, env names.)
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "proxy/config.h"

namespace {

namespace fs = std::filesystem;
using Problems = std::vector<std::string>;

const std::string kDeployDir = std::string(PROMPTGATE_SOURCE_DIR) + "/deploy/kubernetes";

// All documents of every file the kustomization lists (checked to be every YAML file there).
std::vector<YAML::Node> load_kustomization(const std::string& dir, Problems& problems) {
  std::vector<YAML::Node> docs;
  YAML::Node k = YAML::LoadFile(dir + "/kustomization.yaml");
  std::set<std::string> listed;
  for (const auto& r : k["resources"]) {
    listed.insert(r.as<std::string>());
    for (auto& d : YAML::LoadAllFromFile(dir + "/" + r.as<std::string>()))
      if (d && !d.IsNull()) docs.push_back(d);
  }
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (e.path().extension() == ".yaml" && name != "kustomization.yaml" && !listed.count(name))
      problems.push_back(dir + ": " + name + " is not listed in kustomization.yaml");
  }
  return docs;
}

// n[k1][k2]... or an undefined node when a key is missing (yaml-cpp throws on indexing a missing
// key's result). reset(), not operator=, which would overwrite the node in the document.
YAML::Node dig(const YAML::Node& n, std::initializer_list<const char*> keys) {
  YAML::Node cur;
  cur.reset(n);
  for (const char* k : keys) {
    if (!cur || !cur.IsMap() || !cur[k]) return YAML::Node(YAML::NodeType::Undefined);
    YAML::Node next = cur[k];
    cur.reset(next);
  }
  return cur;
}

std::vector<YAML::Node> of_kind(const std::vector<YAML::Node>& docs, const std::string& kind) {
  std::vector<YAML::Node> out;
  for (const auto& d : docs)
    if (d["kind"] && d["kind"].as<std::string>() == kind) out.push_back(d);
  return out;
}

std::optional<YAML::Node> named(const std::vector<YAML::Node>& docs, const std::string& kind,
                                const std::string& name) {
  for (const auto& d : of_kind(docs, kind))
    if (d["metadata"]["name"].as<std::string>() == name) return d;
  return std::nullopt;
}

// Every label of `selector` (matchLabels or a plain map) is on `labels`, and there is at least one.
bool selects(const YAML::Node& selector, const YAML::Node& labels) {
  YAML::Node wanted = selector["matchLabels"] ? selector["matchLabels"] : selector;
  if (!wanted || !wanted.IsMap() || wanted.size() == 0) return false;
  for (const auto& kv : wanted) {
    auto key = kv.first.as<std::string>();
    if (!labels[key] || labels[key].as<std::string>() != kv.second.as<std::string>()) return false;
  }
  return true;
}

std::optional<std::string> env_value(const YAML::Node& container, const std::string& name) {
  for (const auto& e : container["env"])
    if (e["name"].as<std::string>() == name && e["value"]) return e["value"].as<std::string>();
  return std::nullopt;
}

// The value of `--flag V` / `--flag=V` in the container's args, if given.
std::optional<std::string> arg_value(const YAML::Node& container, const std::string& flag) {
  std::vector<std::string> args;
  for (const auto& a : container["args"]) args.push_back(a.as<std::string>());
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == flag && i + 1 < args.size()) return args[i + 1];
    if (args[i].rfind(flag + "=", 0) == 0) return args[i].substr(flag.size() + 1);
  }
  return std::nullopt;
}

// A flag's effective value as `promptgate run` sees it: command line, then environment.
std::optional<std::string> flag_value(const YAML::Node& container, const std::string& flag,
                                      const std::string& env) {
  if (auto v = arg_value(container, flag)) return v;
  auto v = env_value(container, env);
  if (v && !v->empty()) return v;
  return std::nullopt;
}

std::optional<YAML::Node> container_named(const YAML::Node& pod_spec, const std::string& name) {
  for (const char* list : {"containers", "initContainers"})
    for (const auto& c : pod_spec[list])
      if (c["name"].as<std::string>() == name) return c;
  return std::nullopt;
}

// The volume mounted at `path` in the container (exact mount path), and that volume's definition.
std::optional<YAML::Node> volume_at(const YAML::Node& pod_spec, const YAML::Node& container,
                                    const std::string& path) {
  for (const auto& m : container["volumeMounts"]) {
    if (m["mountPath"].as<std::string>() != path) continue;
    for (const auto& v : pod_spec["volumes"])
      if (v["name"].as<std::string>() == m["name"].as<std::string>()) return v;
  }
  return std::nullopt;
}

// The volume mounted at the directory holding `file`, with the file's name inside it.
std::optional<std::pair<YAML::Node, std::string>> volume_holding(const YAML::Node& pod_spec,
                                                                 const YAML::Node& container,
                                                                 const std::string& file) {
  fs::path p(file);
  if (auto v = volume_at(pod_spec, container, p.parent_path().string()))
    return std::make_pair(*v, p.filename().string());
  return std::nullopt;
}

// What `promptgate run` in this container will use: the ConfigMap file it is given, parsed by
// the real config parser, with the flags from args and environment applied on top.
struct Effective {
  promptgate::proxy::ProxyConfig config;
  std::string config_path;
};

std::optional<Effective> effective_config(const std::vector<YAML::Node>& docs,
                                          const YAML::Node& pod_spec, const YAML::Node& c,
                                          Problems& problems) {
  Effective e;
  auto path = flag_value(c, "--config", "PROMPTGATE_CONFIG");
  if (!path) {
    problems.push_back("container " + c["name"].as<std::string>() + " gives no --config");
    return std::nullopt;
  }
  e.config_path = *path;
  auto holder = volume_holding(pod_spec, c, *path);
  if (!holder || !holder->first["configMap"]) {
    problems.push_back(*path + " is not in a mounted ConfigMap");
    return std::nullopt;
  }
  auto cm = named(docs, "ConfigMap", holder->first["configMap"]["name"].as<std::string>());
  if (!cm || !(*cm)["data"][holder->second]) {
    problems.push_back("the ConfigMap has no key " + holder->second);
    return std::nullopt;
  }
  try {
    e.config =
        promptgate::proxy::parse_config((*cm)["data"][holder->second].as<std::string>(), *path);
    if (auto v = flag_value(c, "--listen", "PROMPTGATE_LISTEN"))
      e.config.listen = promptgate::proxy::parse_host_port(*v, "--listen");
    if (auto v = flag_value(c, "--admin-listen", "PROMPTGATE_ADMIN_LISTEN"))
      e.config.admin_listen = promptgate::proxy::parse_host_port(*v, "--admin-listen");
  } catch (const std::exception& ex) {
    problems.push_back(std::string("config: ") + ex.what());
    return std::nullopt;
  }
  // Every file the config names must be in a mounted volume (ConfigMap key or Secret key).
  std::vector<std::string> files;
  for (const auto& r : e.config.rules)
    if (r != "builtin") files.push_back(r);
  if (!e.config.users_file.empty()) files.push_back(e.config.users_file);
  for (const auto& f : files) {
    auto h = volume_holding(pod_spec, c, f);
    bool found = false;
    if (h && h->first["configMap"]) {
      auto m = named(docs, "ConfigMap", h->first["configMap"]["name"].as<std::string>());
      found = m && (*m)["data"][h->second];
    } else if (h && h->first["secret"]) {
      auto s = named(docs, "Secret", h->first["secret"]["secretName"].as<std::string>());
      found =
          s && (dig(*s, {"data", h->second.c_str()}) || dig(*s, {"stringData", h->second.c_str()}));
    }
    if (!found) problems.push_back("the config names " + f + ", which no mounted volume holds");
  }
  return e;
}

// The containerPort a probe or Service refers to (by name or number), 0 if none.
int resolve_port(const YAML::Node& container, const YAML::Node& port) {
  for (const auto& p : container["ports"]) {
    if (port.as<std::string>() == p["containerPort"].as<std::string>() ||
        (p["name"] && port.as<std::string>() == p["name"].as<std::string>()))
      return p["containerPort"].as<int>();
  }
  return 0;
}

// Probes on /healthz (startup, liveness) and /readyz (readiness), on the admin listener's port,
// which listens on all interfaces (the kubelet probes the pod's IP).
void check_probes(const YAML::Node& c, const Effective& e, bool need_liveness, Problems& problems) {
  const auto& admin = e.config.admin_listen;
  if (admin.host != "0.0.0.0" && admin.host != "::")
    problems.push_back("admin_listen " + admin.host + " is not reachable by the kubelet's probes");
  struct Want {
    const char* probe;
    const char* path;
  };
  for (Want w : {Want{"livenessProbe", "/healthz"}, Want{"readinessProbe", "/readyz"},
                 Want{"startupProbe", nullptr}}) {
    YAML::Node p = c[w.probe];
    if (!p) {
      if (w.path && (need_liveness || std::string(w.probe) == "readinessProbe"))
        problems.push_back(std::string("no ") + w.probe);
      continue;
    }
    std::string path = p["httpGet"]["path"].as<std::string>("");
    if (w.path ? path != w.path : (path != "/healthz" && path != "/readyz"))
      problems.push_back(std::string(w.probe) + " asks for " + path);
    int port = resolve_port(c, p["httpGet"]["port"]);
    if (port == 0)
      problems.push_back(std::string(w.probe) + " port is not a declared containerPort");
    else if (port != admin.port)
      problems.push_back(std::string(w.probe) + " probes port " + std::to_string(port) +
                         ", the admin listener is on " + std::to_string(admin.port));
  }
}

// SIGKILL must not cut the drain short: grace >= preStop sleep + drain_ms + 2 s.
void check_grace(const YAML::Node& pod_spec, const YAML::Node& c, const Effective& e,
                 Problems& problems) {
  int grace = pod_spec["terminationGracePeriodSeconds"].as<int>(30);
  int pre_stop = 0;
  if (auto cmd = dig(c, {"lifecycle", "preStop", "exec", "command"});
      cmd && cmd.size() == 2 && cmd[0].as<std::string>() == "/bin/sleep")
    pre_stop = cmd[1].as<int>();
  int needed = pre_stop + static_cast<int>((e.config.drain_timeout_ms + 999) / 1000) + 2;
  if (grace < needed)
    problems.push_back("terminationGracePeriodSeconds " + std::to_string(grace) +
                       " is below preStop + drain_ms + 2 s = " + std::to_string(needed));
}

void check_security(const YAML::Node& pod_spec, const YAML::Node& c, Problems& problems) {
  std::string name = c["name"].as<std::string>();
  if (!pod_spec["securityContext"]["runAsNonRoot"].as<bool>(false))
    problems.push_back("pod does not set runAsNonRoot");
  if (!c["securityContext"]["readOnlyRootFilesystem"].as<bool>(false))
    problems.push_back(name + ": root filesystem is writable");
  if (c["securityContext"]["allowPrivilegeEscalation"].as<bool>(true))
    problems.push_back(name + ": allowPrivilegeEscalation");
}

// PROMPTGATE_HOME is a private emptyDir that an init container fills from the CA Secret (the
// Secret volume itself is group-readable, which promptgate refuses for a private key).
void check_home(const std::vector<YAML::Node>& docs, const YAML::Node& pod_spec,
                const YAML::Node& c, Problems& problems) {
  auto home = env_value(c, "PROMPTGATE_HOME");
  if (!home) {
    problems.push_back("PROMPTGATE_HOME is not set");
    return;
  }
  auto vol = volume_at(pod_spec, c, *home);
  if (!vol || !(*vol)["emptyDir"]) {
    problems.push_back("PROMPTGATE_HOME " + *home + " is not a mounted emptyDir");
    return;
  }
  bool filled = false;
  for (const auto& init : pod_spec["initContainers"]) {
    auto same = volume_at(pod_spec, init, *home);
    if (!same || (*same)["name"].as<std::string>() != (*vol)["name"].as<std::string>()) continue;
    for (const auto& m : init["volumeMounts"]) {
      for (const auto& v : pod_spec["volumes"]) {
        if (v["name"].as<std::string>() != m["name"].as<std::string>() || !v["secret"]) continue;
        auto secret = named(docs, "Secret", v["secret"]["secretName"].as<std::string>());
        if (!secret) {
          problems.push_back("Secret " + v["secret"]["secretName"].as<std::string>() +
                             " is not defined");
          continue;
        }
        std::string script;
        for (const auto& part : init["command"]) script += part.as<std::string>() + " ";
        std::string from = m["mountPath"].as<std::string>();
        for (const char* key : {"ca.pem", "ca-key.pem", "cluster.key"}) {
          if (!dig(*secret, {"data", key}))
            problems.push_back(std::string("the CA Secret has no ") + key);
          if (script.find(from + "/" + key) == std::string::npos)
            problems.push_back(init["name"].as<std::string>() + " does not copy " + key);
        }
        if (script.find(*home) == std::string::npos)
          problems.push_back(init["name"].as<std::string>() + " does not copy into " + *home);
        filled = true;
      }
    }
  }
  if (!filled) problems.push_back("no init container copies the CA Secret into " + *home);
}

Problems check_gateway(const std::vector<YAML::Node>& docs) {
  Problems problems;
  for (const char* kind : {"Namespace", "ConfigMap", "Secret", "Deployment", "Service",
                           "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"})
    if (of_kind(docs, kind).empty()) problems.push_back(std::string("no ") + kind);
  auto deployments = of_kind(docs, "Deployment");
  if (deployments.size() != 1) return problems;
  const YAML::Node& dep = deployments[0];
  const std::string dep_name = dep["metadata"]["name"].as<std::string>();
  YAML::Node pod_spec = dep["spec"]["template"]["spec"];
  YAML::Node pod_labels = dep["spec"]["template"]["metadata"]["labels"];
  if (!selects(dep["spec"]["selector"], pod_labels))
    problems.push_back("the Deployment's selector does not match its pods");
  auto c = container_named(pod_spec, "promptgate");
  if (!c) {
    problems.push_back("no container named promptgate");
    return problems;
  }
  auto e = effective_config(docs, pod_spec, *c, problems);
  if (!e) return problems;
  check_probes(*c, *e, true, problems);
  check_grace(pod_spec, *c, *e, problems);
  check_security(pod_spec, *c, problems);
  check_home(docs, pod_spec, *c, problems);
  if (e->config.listen.host != "0.0.0.0" && e->config.listen.host != "::")
    problems.push_back("the proxy listens on " + e->config.listen.host + ", not all interfaces");
  if (resolve_port(*c, YAML::Node(std::to_string(e->config.listen.port))) == 0)
    problems.push_back("the proxy port " + std::to_string(e->config.listen.port) +
                       " is not declared");

  for (const auto& svc : of_kind(docs, "Service")) {
    if (!selects(svc["spec"]["selector"], pod_labels))
      problems.push_back("the Service does not select the gateway pods");
    bool proxy_port = false;
    for (const auto& p : svc["spec"]["ports"])
      if (resolve_port(*c, p["targetPort"]) == e->config.listen.port) proxy_port = true;
    if (!proxy_port) problems.push_back("the Service does not reach the proxy port");
  }
  for (const auto& hpa : of_kind(docs, "HorizontalPodAutoscaler")) {
    auto ref = hpa["spec"]["scaleTargetRef"];
    if (ref["kind"].as<std::string>("") != "Deployment" ||
        ref["name"].as<std::string>("") != dep_name)
      problems.push_back("the HPA does not scale the Deployment");
    if (hpa["spec"]["minReplicas"].as<int>(1) < 2)
      problems.push_back("the HPA allows a single replica");
  }
  for (const auto& pdb : of_kind(docs, "PodDisruptionBudget"))
    if (!selects(pdb["spec"]["selector"], pod_labels))
      problems.push_back("the PodDisruptionBudget does not select the gateway pods");

  // Egress to addresses outside the cluster (ipBlock) only on 443, and only from gateway pods;
  // everything else only DNS or the gateway's proxy port.
  bool gateway_egress = false;
  for (const auto& np : of_kind(docs, "NetworkPolicy")) {
    bool gateway_only = selects(np["spec"]["podSelector"], pod_labels);
    for (const auto& rule : np["spec"]["egress"]) {
      bool to_ip_block = false, to_gateway = false;
      for (const auto& peer : rule["to"]) {
        if (peer["ipBlock"]) to_ip_block = true;
        if (peer["podSelector"] && selects(peer["podSelector"], pod_labels)) to_gateway = true;
      }
      if (!rule["ports"])
        problems.push_back(np["metadata"]["name"].as<std::string>() + ": egress to any port");
      for (const auto& p : rule["ports"]) {
        int port = p["port"].as<int>(0);
        if (to_ip_block && port != 443)
          problems.push_back("egress to the internet on port " + std::to_string(port));
        if (!to_ip_block && !rule["to"] && port != 53)
          problems.push_back("egress to anywhere on port " + std::to_string(port));
        if (!to_ip_block && rule["to"] && !(to_gateway && port == e->config.listen.port))
          problems.push_back("egress to something other than the gateway's proxy port");
      }
      if (to_ip_block && !gateway_only)
        problems.push_back(np["metadata"]["name"].as<std::string>() +
                           " lets pods other than the gateway reach the internet");
      if (to_ip_block && gateway_only) gateway_egress = true;
    }
  }
  if (!gateway_egress) problems.push_back("no NetworkPolicy lets the gateway out on 443");
  return problems;
}

Problems check_sidecar(const std::vector<YAML::Node>& docs, const std::vector<YAML::Node>& shared) {
  Problems problems;
  std::vector<YAML::Node> all = docs;
  all.insert(all.end(), shared.begin(), shared.end());  // the Secret comes from the gateway's
  auto jobs = of_kind(docs, "Job");
  if (jobs.size() != 1 || of_kind(docs, "ConfigMap").empty()) {
    problems.push_back("want one Job and a ConfigMap");
    return problems;
  }
  YAML::Node pod_spec = jobs[0]["spec"]["template"]["spec"];
  auto pg = container_named(pod_spec, "promptgate");
  auto agent = container_named(pod_spec, "agent");
  if (!pg || !agent) {
    problems.push_back("want containers promptgate and agent");
    return problems;
  }
  // A native sidecar: an init container that keeps running, so that the Job can complete.
  if ((*pg)["restartPolicy"].as<std::string>("") != "Always")
    problems.push_back("promptgate is not a native sidecar (restartPolicy: Always)");
  auto e = effective_config(all, pod_spec, *pg, problems);
  if (!e) return problems;
  check_probes(*pg, *e, false, problems);
  if (!(*pg)["startupProbe"])
    problems.push_back("no startupProbe: the agent could start before the proxy");
  check_grace(pod_spec, *pg, *e, problems);
  check_security(pod_spec, *pg, problems);
  check_security(pod_spec, *agent, problems);
  check_home(all, pod_spec, *pg, problems);

  std::string host = e->config.listen.host == "0.0.0.0" ? "127.0.0.1" : e->config.listen.host;
  std::string want_proxy = "http://" + host + ":" + std::to_string(e->config.listen.port);
  auto proxy = env_value(*agent, "HTTPS_PROXY");
  if (proxy != want_proxy)
    problems.push_back("agent HTTPS_PROXY is " + proxy.value_or("unset") + ", want " + want_proxy);
  auto ca = env_value(*agent, "NODE_EXTRA_CA_CERTS");
  auto holder = ca ? volume_holding(pod_spec, *agent, *ca) : std::nullopt;
  bool ca_ok = false;
  if (holder && holder->first["secret"]) {
    auto s = named(all, "Secret", holder->first["secret"]["secretName"].as<std::string>());
    std::string key = holder->second;
    for (const auto& item : holder->first["secret"]["items"]) {
      if (item["path"].as<std::string>() == holder->second) key = item["key"].as<std::string>();
      if (item["key"].as<std::string>() == "ca-key.pem")
        problems.push_back("the agent can read the CA key");
    }
    ca_ok = s && key == "ca.pem" && dig(*s, {"data", "ca.pem"});
    if (!holder->first["secret"]["items"]) problems.push_back("the agent can read the CA key");
  }
  if (!ca_ok)
    problems.push_back("agent NODE_EXTRA_CA_CERTS " + ca.value_or("unset") +
                       " is not the mounted ca.pem of the CA Secret");
  return problems;
}

std::string joined(const Problems& p) {
  std::string out;
  for (const auto& s : p) out += "  " + s + "\n";
  return out;
}

YAML::Node& first_of(std::vector<YAML::Node>& docs, const std::string& kind) {
  for (auto& d : docs)
    if (d["kind"].as<std::string>() == kind) return d;
  throw std::runtime_error("no " + kind);
}

// Deep copies, so that a mutation does not leak into the next case.
std::vector<YAML::Node> clone_all(const std::vector<YAML::Node>& docs) {
  std::vector<YAML::Node> out;
  for (const auto& d : docs) out.push_back(YAML::Clone(d));
  return out;
}

bool mentions(const Problems& p, const std::string& what) {
  return std::any_of(p.begin(), p.end(),
                     [&](const std::string& s) { return s.find(what) != std::string::npos; });
}

}  // namespace

TEST_CASE("the gateway manifests are complete and consistent", "[deploy]") {
  Problems listing;
  auto docs = load_kustomization(kDeployDir + "/gateway", listing);
  INFO(joined(listing));
  CHECK(listing.empty());
  Problems problems = check_gateway(docs);
  INFO(joined(problems));
  CHECK(problems.empty());
}

TEST_CASE("the sidecar manifests are complete and consistent", "[deploy]") {
  Problems listing;
  auto gateway = load_kustomization(kDeployDir + "/gateway", listing);
  auto docs = load_kustomization(kDeployDir + "/sidecar", listing);
  CHECK(listing.empty());
  Problems problems = check_sidecar(docs, of_kind(gateway, "Secret"));
  INFO(joined(problems));
  CHECK(problems.empty());
}

TEST_CASE("the manifest checks reject broken manifests", "[deploy]") {
  Problems listing;
  const auto gateway = load_kustomization(kDeployDir + "/gateway", listing);
  const auto sidecar = load_kustomization(kDeployDir + "/sidecar", listing);
  REQUIRE(check_gateway(gateway).empty());

  SECTION("readiness probe on the proxy port") {
    auto docs = clone_all(gateway);
    auto c = first_of(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0];
    c["readinessProbe"]["httpGet"]["port"] = "proxy";
    CHECK(mentions(check_gateway(docs), "readinessProbe probes port 8080"));
  }
  SECTION("liveness probe on a wrong path") {
    auto docs = clone_all(gateway);
    auto c = first_of(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0];
    c["livenessProbe"]["httpGet"]["path"] = "/health";
    CHECK(mentions(check_gateway(docs), "livenessProbe asks for /health"));
  }
  SECTION("admin listener moved without moving the probes") {
    auto docs = clone_all(gateway);
    auto c = first_of(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0];
    for (auto e : c["env"])
      if (e["name"].as<std::string>() == "PROMPTGATE_ADMIN_LISTEN") e["value"] = "0.0.0.0:9191";
    CHECK(mentions(check_gateway(docs), "the admin listener is on 9191"));
  }
  SECTION("admin listener on loopback") {
    auto docs = clone_all(gateway);
    auto c = first_of(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0];
    c["args"].push_back("--admin-listen");
    c["args"].push_back("127.0.0.1:9090");
    CHECK(mentions(check_gateway(docs), "not reachable by the kubelet"));
  }
  SECTION("termination grace shorter than the drain") {
    auto docs = clone_all(gateway);
    first_of(docs, "Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 30;
    CHECK(mentions(check_gateway(docs), "terminationGracePeriodSeconds 30"));
  }
  SECTION("internet egress on port 80") {
    auto docs = clone_all(gateway);
    for (auto& d : docs)
      if (d["kind"].as<std::string>() == "NetworkPolicy")
        for (auto rule : d["spec"]["egress"])
          if (rule["to"] && rule["to"][0]["ipBlock"]) rule["ports"][0]["port"] = 80;
    CHECK(mentions(check_gateway(docs), "egress to the internet on port 80"));
  }
  SECTION("internet egress for every pod") {
    auto docs = clone_all(gateway);
    for (auto& d : docs)
      if (d["kind"].as<std::string>() == "NetworkPolicy" &&
          d["metadata"]["name"].as<std::string>() == "promptgate-gateway")
        d["spec"]["podSelector"] = YAML::Node(YAML::NodeType::Map);
    CHECK(mentions(check_gateway(docs), "lets pods other than the gateway reach the internet"));
  }
  SECTION("PDB selecting other pods") {
    auto docs = clone_all(gateway);
    first_of(docs,
             "PodDisruptionBudget")["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] =
        "other";
    CHECK(mentions(check_gateway(docs), "PodDisruptionBudget does not select"));
  }
  SECTION("HPA scaling another Deployment") {
    auto docs = clone_all(gateway);
    first_of(docs, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["name"] = "other";
    CHECK(mentions(check_gateway(docs), "HPA does not scale"));
  }
  SECTION("a rule file the ConfigMap does not hold") {
    auto docs = clone_all(gateway);
    auto cm = first_of(docs, "ConfigMap");
    cm["data"].remove("acme-rules.yaml");
    CHECK(mentions(check_gateway(docs), "acme-rules.yaml, which no mounted volume holds"));
  }
  SECTION("PROMPTGATE_HOME not filled from the Secret") {
    auto docs = clone_all(gateway);
    auto spec = first_of(docs, "Deployment")["spec"]["template"]["spec"];
    spec["initContainers"][0]["command"][2] = "true";
    CHECK(mentions(check_gateway(docs), "does not copy ca-key.pem"));
  }
  SECTION("sidecar agent trusting the wrong file") {
    auto docs = clone_all(sidecar);
    auto spec = first_of(docs, "Job")["spec"]["template"]["spec"];
    for (auto e : spec["containers"][0]["env"])
      if (e["name"].as<std::string>() == "NODE_EXTRA_CA_CERTS") e["value"] = "/etc/ssl/ca.pem";
    CHECK(mentions(check_sidecar(docs, of_kind(gateway, "Secret")), "NODE_EXTRA_CA_CERTS"));
  }
  SECTION("sidecar agent pointed at another port") {
    auto docs = clone_all(sidecar);
    auto spec = first_of(docs, "Job")["spec"]["template"]["spec"];
    for (auto e : spec["containers"][0]["env"])
      if (e["name"].as<std::string>() == "HTTPS_PROXY") e["value"] = "http://127.0.0.1:3128";
    CHECK(mentions(check_sidecar(docs, of_kind(gateway, "Secret")), "agent HTTPS_PROXY"));
  }
  SECTION("sidecar agent given the whole CA Secret") {
    auto docs = clone_all(sidecar);
    auto spec = first_of(docs, "Job")["spec"]["template"]["spec"];
    for (auto v : spec["volumes"])
      if (v["name"].as<std::string>() == "ca-cert") v["secret"].remove("items");
    CHECK(mentions(check_sidecar(docs, of_kind(gateway, "Secret")), "can read the CA key"));
  }
}
