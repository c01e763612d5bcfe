#include "litestage/experiment/report.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

#include "litestage/util/format.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

namespace {

std::string latex_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '_' || c == '%' || c == '&' || c == '#' || c == '$') out += '\\';
    out += c;
  }
  return out;
}

std::string csv_quote(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

Interval MethodRow::accuracy_ci() const {
  return wilson_interval(static_cast<size_t>(summary.correct), static_cast<size_t>(summary.examples));
}

namespace {

std::string pct_ci(const MethodRow& r) {
  const Interval ci = r.accuracy_ci();
  return format("%.1f", 100 * r.summary.accuracy) + " [" + format("%.1f", 100 * ci.low) + ", " + format("%.1f", 100 * ci.high) +
         "]";
}

std::string latency_spread(const MethodRow& r) {
  if (!r.timing.measured()) return format("%.4f", r.summary.mean_seconds);
  return format("%.4f", r.timing.median()) + " (" + format("%.4f", r.timing.low()) + "–" + format("%.4f", r.timing.high()) + ")";
}

std::string speedup_ci(const MethodRow& r) {
  if (r.speedup_ci.high <= 0) return format("%.2fx", r.speedup());
  return format("%.2fx", r.speedup()) + " [" + format("%.2f", r.speedup_ci.low) + ", " + format("%.2f", r.speedup_ci.high) + "]";
}

std::string label_of(const MethodRow& r) { return r.label + (r.unconstrained ? " †" : ""); }

// A header's or a row's stage columns: f(stage) for each stage in running order, each followed by
// `sep` (the stage list is written once, in stage/stage.hpp).
template <class F>
std::string stage_columns(F f, const std::string& sep) {
  std::string out;
  for (StageKind k : kStages) out += f(k) + sep;
  return out;
}

std::string capitalised(StageKind k) {
  std::string name(to_string(k));
  name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
  return name;
}

// Speculative rows: tokens gained per verify forward in each stage, "recall/analyze/summarize".
std::string tokens_per_verify(const MethodRow& r) {
  std::string out;
  for (auto kind : kStages) {
    const double t = r.summary.stages[kind].speculative.tokens_per_forward();
    out += (out.empty() ? "" : "/") + (t > 0 ? format("%.2f", t) : std::string("-"));
  }
  return out == "-/-/-" ? "" : out;
}

}  // namespace

std::string table_markdown(const std::vector<MethodRow>& rows, const std::string& caption) {
  std::ostringstream o;
  if (!caption.empty()) o << "**" << caption << "**\n\n";
  o << "| method | acc % [95% CI] | Δ acc | "
    << stage_columns([](StageKind k) { return std::string(to_string(k)) + " (s)"; }, " | ")
    << "total s (min–max) | tokens | speedup [95% CI] | predicted speedup | FLOPs speedup | tokens per verify | too long |\n";
  o << "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  bool dagger = false;
  for (const auto& r : rows) {
    const auto& s = r.summary;
    dagger = dagger || r.unconstrained;
    o << "| " << label_of(r) << " | " << pct_ci(r) << " | " << format("%+.2f", r.delta_points()) << " | "
      << stage_columns([&](StageKind k) { return format("%.4f", s.stages[k].mean_seconds); }, " | ")
      << latency_spread(r) << " | " << format("%.1f", s.mean_tokens)
      << " | " << speedup_ci(r) << " | " << format("%.2fx", r.predicted_speedup()) << " | " << format("%.2fx", r.cost_speedup())
      << " | " << tokens_per_verify(r) << " | " << s.prompt_too_long << " |\n";
  }
  o << "\npredicted speedup: the latency model's, from the deterministic cost (docs/methods.md, \"Cost\"); "
       "FLOPs speedup: the FLOPs ratio; tokens per verify: speculative rows' tokens per verify forward "
       "(recall/analyze/summarize).\n";
  if (dagger) o << "\n† not held to the accuracy target.\n";
  o << "\nSettings per method:\n\n";
  for (const auto& r : rows)
    o << "- " << r.label << ": skip " << r.skip << "; early exit " << r.early_exit
      << (r.speculative == "off" ? "" : "; speculative " + r.speculative) << "\n";
  return o.str();
}

std::string table_csv(const std::vector<MethodRow>& rows) {
  std::ostringstream o;
  o << "method,label,epsilon,accuracy,accuracy_low,accuracy_high,delta_points,"
    << stage_columns([](StageKind k) { return std::string(to_string(k)) + "_s"; }, ",")
    << "total_s,total_s_min,total_s_max,tokens,speedup,speedup_low,speedup_high,predicted_speedup,predicted_s,cost_speedup,"
       "flops,prompt_too_long,"
    << stage_columns([](StageKind k) { return std::string(to_string(k)) + "_share"; }, ",")
    << "unparsed,examples,held_to_target,skip,early_exit,speculative,tokens_per_verify\n";
  for (const auto& r : rows) {
    const auto& s = r.summary;
    const Interval a = r.accuracy_ci();
    o << r.method << "," << csv_quote(r.label) << "," << (r.epsilon >= 0 ? format("%g", r.epsilon) : "") << ","
      << format("%.6f", s.accuracy) << "," << format("%.6f", a.low) << "," << format("%.6f", a.high) << ","
      << format("%.4f", r.delta_points()) << ","
      << stage_columns([&](StageKind k) { return format("%.6f", s.stages[k].mean_seconds); }, ",")
      << format("%.6f", s.mean_seconds) << "," << format("%.6f", r.timing.low()) << "," << format("%.6f", r.timing.high())
      << "," << format("%.3f", s.mean_tokens) << "," << format("%.4f", r.speedup()) << "," << format("%.4f", r.speedup_ci.low)
      << "," << format("%.4f", r.speedup_ci.high) << "," << format("%.4f", r.predicted_speedup()) << ","
      << format("%.6f", r.predicted_seconds) << "," << format("%.4f", r.cost_speedup()) << ","
      << format("%.6g", s.mean_cost.flops) << "," << s.prompt_too_long << ","
      << stage_columns([&](StageKind k) { return format("%.4f", s.stages[k].share); }, ",") << s.unparsed << ","
      << s.examples << "," << (r.unconstrained ? "no" : "yes") << "," << csv_quote(r.skip) << ","
      << csv_quote(r.early_exit) << "," << csv_quote(r.speculative) << "," << tokens_per_verify(r) << "\n";
  }
  return o.str();
}

std::string table_latex(const std::vector<MethodRow>& rows, const std::string& caption) {
  std::ostringstream o;
  o << "\\begin{table}[t]\n\\centering\n\\begin{tabular}{lrrrrrrrrr}\n\\toprule\n"
    << "Method & Acc. (\\%) & $\\Delta$ & " << stage_columns([](StageKind k) { return capitalised(k) + " (s)"; }, " & ")
    << "Total (s) & Speedup & Predicted & FLOPs \\\\\n\\midrule\n";
  for (const auto& r : rows) {
    const auto& s = r.summary;
    const Interval a = r.accuracy_ci();
    o << latex_escape(r.label) << (r.unconstrained ? "$^\\dagger$" : "") << " & " << format("%.1f", 100 * s.accuracy) << " {\\scriptsize[" << format("%.1f", 100 * a.low)
      << ", " << format("%.1f", 100 * a.high) << "]} & " << format("%+.2f", r.delta_points()) << " & "
      << stage_columns([&](StageKind k) { return format("%.4f", s.stages[k].mean_seconds); }, " & ")
      << format("%.4f", s.mean_seconds) << " & "
      << format("%.2f", r.speedup()) << "$\\times$ & " << format("%.2f", r.predicted_speedup()) << "$\\times$ & "
      << format("%.2f", r.cost_speedup()) << "$\\times$ \\\\\n";
  }
  o << "\\bottomrule\n\\end{tabular}\n\\caption{" << latex_escape(caption) << "}\n\\end{table}\n";
  return o.str();
}

void write_tables(const std::vector<MethodRow>& rows, const std::string& dir, const std::string& stem,
                  const std::string& caption) {
  write_file_atomic(dir + "/" + stem + ".md", table_markdown(rows, caption));
  write_file_atomic(dir + "/" + stem + ".csv", table_csv(rows));
  write_file_atomic(dir + "/" + stem + ".tex", table_latex(rows, caption));
}

bool gnuplot_available() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

namespace {

// Writes the script, runs it for PNG and SVG when gnuplot exists; returns the files written.
std::vector<std::string> render(const std::string& dir, const std::string& stem, const std::string& data,
                                const std::string& body) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  std::vector<std::string> files;
  write_file_atomic(dir + "/" + stem + ".dat", data);
  files.push_back(dir + "/" + stem + ".dat");
  std::string script = "# Re-plot with: gnuplot " + stem + ".gp (run inside this folder)\n"
                       "datafile = '" + stem + ".dat'\n"
                       "set terminal pngcairo size 1000,620 noenhanced font 'sans,11'\n"
                       "set output '" + stem + ".png'\n" + body +
                       "set terminal svg size 1000,620 noenhanced font 'sans,11'\n"
                       "set output '" + stem + ".svg'\nreplot\n";
  write_file_atomic(dir + "/" + stem + ".gp", script);
  files.push_back(dir + "/" + stem + ".gp");
  if (gnuplot_available()) {
    std::string cmd = "cd '" + dir + "' && gnuplot '" + stem + ".gp' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) {
      files.push_back(dir + "/" + stem + ".png");
      files.push_back(dir + "/" + stem + ".svg");
    }
  }
  return files;
}

}  // namespace

std::vector<std::string> plot_tradeoff(const std::vector<MethodRow>& rows, const std::string& dir) {
  // One data block per method (blank-line separated, gnuplot "index"), points sorted by speedup,
  // with the speedup's bootstrap interval and the accuracy's Wilson interval as error bars. Each
  // method has its own point shape and size, so methods at the same point stay visible.
  std::map<std::string, std::vector<const MethodRow*>> by_method;
  std::vector<std::string> order;
  for (const auto& r : rows) {
    if (!by_method.count(r.method)) order.push_back(r.method);
    by_method[r.method].push_back(&r);
  }
  std::ostringstream data;
  std::string plots;
  for (size_t i = 0; i < order.size(); ++i) {
    data << "# " << order[i] << "\n# speedup accuracy(%) speedup_low speedup_high acc_low(%) acc_high(%) label\n";
    auto pts = by_method[order[i]];
    std::sort(pts.begin(), pts.end(), [](auto* a, auto* b) { return a->speedup() < b->speedup(); });
    for (const auto* r : pts) {
      const Interval a = r->accuracy_ci();
      const bool ci = r->speedup_ci.high > 0;
      data << format("%.4f", r->speedup()) << " " << format("%.3f", 100 * r->summary.accuracy) << " "
           << format("%.4f", ci ? r->speedup_ci.low : r->speedup()) << " " << format("%.4f", ci ? r->speedup_ci.high : r->speedup())
           << " " << format("%.3f", 100 * a.low) << " " << format("%.3f", 100 * a.high) << " \"" << r->label << "\"\n";
    }
    data << "\n\n";
    const std::string index = "datafile index " + std::to_string(i);
    const std::string style = "lc " + std::to_string(i + 1) + " pt " + std::to_string(4 + 2 * (i % 6)) + " ps " +
                              format("%.2f", 2.2 - 0.2 * static_cast<double>(i % 6));
    plots += std::string(i ? ", \\\n     " : "plot ") + index + " using 1:2:3:4:5:6 with xyerrorbars " + style +
             " title '" + order[i] + "', \\\n     " + index + " using 1:2 with lines lc " + std::to_string(i + 1) +
             " notitle";
  }
  std::string body = "set title 'Accuracy vs. speedup (bars: 95% intervals)'\n"
                     "set xlabel 'speedup over the full model (x)'\nset ylabel 'accuracy (%)'\nset grid\n"
                     "set key outside right top\nset offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05\n" +
                     plots + "\n";
  return render(dir, "tradeoff", data.str(), body);
}

std::vector<std::string> plot_sweep(const SearchResult& search, const std::string& dir, const std::string& stem) {
  std::ostringstream data;
  std::vector<std::string> stages;
  for (const auto& row : search.sweep)
    if (std::find(stages.begin(), stages.end(), row.stage) == stages.end()) stages.push_back(row.stage);
  // The right panel shows what the search compared: measured latency when the sweep was timed,
  // else (search.latency: cost) the latency model's prediction from the deterministic cost.
  const bool timed = std::any_of(search.sweep.begin(), search.sweep.end(),
                                 [](const SweepRow& r) { return r.point.timing.measured(); });
  for (const auto& st : stages) {
    data << "# stage " << st << "\n# k accuracy(%) latency(s) tokens chosen GFLOPs predicted(s)\n";
    for (const auto& row : search.sweep)
      if (row.stage == st)
        data << row.k << " " << format("%.3f", 100 * row.point.accuracy) << " " << format("%.5f", row.point.latency) << " "
             << format("%.2f", row.point.tokens) << " " << (row.chosen ? 1 : 0) << " " << format("%.6f", row.point.flops / 1e9)
             << " " << format("%.6f", row.point.predicted) << "\n";
    data << "\n\n";
  }
  std::string acc, lat;
  for (size_t i = 0; i < stages.size(); ++i) {
    acc += std::string(i ? ", " : "plot ") + "datafile index " + std::to_string(i) +
           " using 1:2 with linespoints pt 7 title '" + stages[i] + "'";
    lat += std::string(i ? ", " : "plot ") + "datafile index " + std::to_string(i) + " using 1:" +
           (timed ? "3" : "7") + " with linespoints pt 7 title '" + stages[i] + "'";
  }
  std::string body = "set multiplot layout 1,2 title 'Stage-wise sweep (" + search.method + ")'\n"
                     "set xlabel 'k (sub-layers skipped in the stage)'\nset grid\n"
                     "set ylabel 'accuracy (%)'\nset arrow from graph 0, first " + format("%.3f", 100 * search.target) +
                     " to graph 1, first " + format("%.3f", 100 * search.target) + " nohead dt 2\n" + acc +
                     "\nunset arrow\nset ylabel '" +
                     (timed ? std::string("latency per question (s, median of the timed passes)")
                            : std::string("predicted latency per question (s, the latency model)")) +
                     "'\n" + lat + "\nunset multiplot\n";
  return render(dir, stem, data.str(), body);
}

std::vector<std::string> plot_importance(const ImportanceResult& imp, const std::string& dir) {
  // Matrix: rows = (stage, kind) pairs, columns = layers; the value is 1 - cos(in, out) on a log
  // colour scale: what the ranking orders by, and a linear cos scale would paint every
  // near-identity sub-layer the same colour although they differ by orders of magnitude.
  std::ostringstream data;
  std::vector<std::string> rows;
  for (StageKind kind : imp.measured_stages()) {
    const auto& st = imp.stages[kind];
    for (int k = 0; k < 2; ++k) {
      rows.push_back(std::string(to_string(kind)) + (k == 0 ? " attn" : " ffn"));
      const auto& v = k == 0 ? st.attn : st.ffn;
      for (size_t l = 0; l < v.size(); ++l) data << (l ? " " : "") << format("%.3e", std::max(1e-6, 1.0 - v[l]));
      data << "\n";
    }
  }
  std::string ytics;
  for (size_t i = 0; i < rows.size(); ++i) ytics += (i ? ", " : "") + std::string("'") + rows[i] + "' " + std::to_string(i);
  std::string body = "set title 'Sub-layer change 1 - cos(in, out) per stage (low = redundant, skipped first)'\n"
                     "set xlabel 'layer'\nset ytics (" + ytics + ")\nset cblabel '1 - cos (log scale)'\n"
                     "set logscale cb\nset format cb '%.0e'\nset palette rgb 33,13,10\nset xrange [-0.5:" +
                     std::to_string(imp.layers - 0.5) + "]\nset yrange [-0.5:" + std::to_string(rows.size() - 0.5) +
                     "]\nset xtics 1\nplot datafile matrix with image notitle\n";
  return render(dir, "importance", data.str(), body);
}

}  // namespace litestage
