// A small YAML helper for deploy_test.sh (there is no YAML parser for shell scripts here).
//
//   manifest_tool configmap MANIFEST.yaml NAME OUTDIR
//     writes the data of ConfigMap NAME into OUTDIR laid out as the kubelet mounts it (each file
//     a symlink through ..data into a hidden timestamped directory), so that the test can run
//     `promptgate run --check-config` on exactly what a pod sees.
//   manifest_tool promptgate-args MANIFEST.yaml...
//     prints, one per line, every PROMPTGATE_* env name and every --flag in the args of the
//     containers whose image is promptgate, so that the test can check them against the binary.
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

namespace {

namespace fs = std::filesystem;

int write_configmap(const std::string& manifest, const std::string& name, const fs::path& out) {
  for (const auto& doc : YAML::LoadAllFromFile(manifest)) {
    if (!doc["kind"] || doc["kind"].as<std::string>() != "ConfigMap" ||
        doc["metadata"]["name"].as<std::string>() != name)
      continue;
    fs::path stamped = out / "..2026_01_01_00_00_00.000000000";
    fs::create_directories(stamped);
    for (const auto& kv : doc["data"]) {
      auto key = kv.first.as<std::string>();
      std::ofstream(stamped / key) << kv.second.as<std::string>();
      if (!fs::exists(fs::symlink_status(out / key)))
        fs::create_symlink(fs::path("..data") / key, out / key);
    }
    if (!fs::exists(fs::symlink_status(out / "..data")))
      fs::create_directory_symlink(stamped.filename(), out / "..data");
    return 0;
  }
  std::cerr << manifest << ": no ConfigMap named " << name << "\n";
  return 2;
}

void print_container(const YAML::Node& c) {
  std::string image = c["image"].as<std::string>("");
  if (image != "promptgate" && image.rfind("promptgate:", 0) != 0) return;
  for (const auto& e : c["env"]) {
    auto n = e["name"].as<std::string>();
    if (n.rfind("PROMPTGATE_", 0) == 0) std::cout << n << "\n";
  }
  for (const auto& a : c["args"]) {
    auto s = a.as<std::string>();
    if (s.rfind("--", 0) == 0) std::cout << s.substr(0, s.find('=')) << "\n";
  }
}

void print_promptgate_args(const YAML::Node& node) {
  // Containers wherever they are (Deployment, Job, Pod): any map with a "containers" list.
  if (node.IsMap()) {
    for (const char* list : {"containers", "initContainers"})
      if (node[list] && node[list].IsSequence())
        for (const auto& c : node[list]) print_container(c);
    for (const auto& kv : node) print_promptgate_args(kv.second);
  } else if (node.IsSequence()) {
    for (const auto& n : node) print_promptgate_args(n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "configmap" && argc == 5) return write_configmap(argv[2], argv[3], argv[4]);
    if (cmd == "promptgate-args" && argc > 2) {
      for (int i = 2; i < argc; ++i)
        for (const auto& doc : YAML::LoadAllFromFile(argv[i])) print_promptgate_args(doc);
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "manifest_tool: " << e.what() << "\n";
    return 2;
  }
  std::cerr
      << "usage: manifest_tool configmap MANIFEST NAME OUTDIR | promptgate-args MANIFEST...\n";
  return 2;
}
