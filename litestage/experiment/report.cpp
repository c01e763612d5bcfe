#include "litestage/experiment/report.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

#include "litestage/util/strings.hpp"

namespace litestage {

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

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

std::string table_markdown(const std::vector<MethodRow>& rows, const std::string& caption) {
  std::ostringstream o;
  if (!caption.empty()) o << "**" << caption << "**\n\n";
  o << "| method | acc (%) | Δ acc | recall (s) | analyze (s) | summarize (s) | total (s) | tokens | speedup |\n";
  o << "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& r : rows) {
    const auto& s = r.summary;
    o << "| " << r.label << " | " << fmt("%.2f", 100 * s.accuracy) << " | " << fmt("%+.2f", r.delta_points()) << " | "
      << fmt("%.4f", s.recall.mean_seconds) << " | " << fmt("%.4f", s.analyze.mean_seconds) << " | "
      << fmt("%.4f", s.summarize.mean_seconds) << " | " << fmt("%.4f", s.mean_seconds) << " | "
      << fmt("%.1f", s.mean_tokens) << " | " << fmt("%.2fx", r.speedup()) << " |\n";
  }
  o << "\nSettings per method:\n\n";
  for (const auto& r : rows) o << "- " << r.label << ": skip " << r.skip << "; early exit " << r.early_exit << "\n";
  return o.str();
}

std::string table_csv(const std::vector<MethodRow>& rows) {
  std::ostringstream o;
  o << "method,label,epsilon,accuracy,delta_points,recall_s,analyze_s,summarize_s,total_s,tokens,speedup,"
       "recall_share,analyze_share,summarize_share,unparsed,examples,skip,early_exit\n";
  for (const auto& r : rows) {
    const auto& s = r.summary;
    o << r.method << "," << csv_quote(r.label) << "," << (r.epsilon >= 0 ? fmt("%g", r.epsilon) : "") << ","
      << fmt("%.6f", s.accuracy) << "," << fmt("%.4f", r.delta_points()) << "," << fmt("%.6f", s.recall.mean_seconds)
      << "," << fmt("%.6f", s.analyze.mean_seconds) << "," << fmt("%.6f", s.summarize.mean_seconds) << ","
      << fmt("%.6f", s.mean_seconds) << "," << fmt("%.3f", s.mean_tokens) << "," << fmt("%.4f", r.speedup()) << ","
      << fmt("%.4f", s.recall.share) << "," << fmt("%.4f", s.analyze.share) << "," << fmt("%.4f", s.summarize.share)
      << "," << s.unparsed << "," << s.examples << "," << csv_quote(r.skip) << "," << csv_quote(r.early_exit) << "\n";
  }
  return o.str();
}

std::string table_latex(const std::vector<MethodRow>& rows, const std::string& caption) {
  std::ostringstream o;
  o << "\\begin{table}[t]\n\\centering\n\\begin{tabular}{lrrrrrrr}\n\\toprule\n"
    << "Method & Acc. (\\%) & $\\Delta$ & Recall (s) & Analyze (s) & Summarize (s) & Total (s) & Speedup \\\\\n\\midrule\n";
  for (const auto& r : rows) {
    const auto& s = r.summary;
    o << latex_escape(r.label) << " & " << fmt("%.2f", 100 * s.accuracy) << " & " << fmt("%+.2f", r.delta_points())
      << " & " << fmt("%.4f", s.recall.mean_seconds) << " & " << fmt("%.4f", s.analyze.mean_seconds) << " & "
      << fmt("%.4f", s.summarize.mean_seconds) << " & " << fmt("%.4f", s.mean_seconds) << " & "
      << fmt("%.2f", r.speedup()) << "$\\times$ \\\\\n";
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
                       "set terminal pngcairo size 900,600 enhanced font 'sans,11'\n"
                       "set output '" + stem + ".png'\n" + body +
                       "set terminal svg size 900,600 enhanced font 'sans,11'\n"
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
  // One data block per method (blank-line separated, gnuplot "index"), points sorted by speedup.
  std::map<std::string, std::vector<const MethodRow*>> by_method;
  std::vector<std::string> order;
  for (const auto& r : rows) {
    if (!by_method.count(r.method)) order.push_back(r.method);
    by_method[r.method].push_back(&r);
  }
  std::ostringstream data;
  std::string plots;
  for (size_t i = 0; i < order.size(); ++i) {
    data << "# " << order[i] << "\n# speedup accuracy(%) label\n";
    auto pts = by_method[order[i]];
    std::sort(pts.begin(), pts.end(), [](auto* a, auto* b) { return a->speedup() < b->speedup(); });
    for (const auto* r : pts)
      data << fmt("%.4f", r->speedup()) << " " << fmt("%.3f", 100 * r->summary.accuracy) << " \"" << r->label << "\"\n";
    data << "\n\n";
    plots += std::string(i ? ", \\\n     " : "plot ") + "datafile index " + std::to_string(i) +
             " using 1:2 with linespoints pt 7 ps 1.3 title '" + order[i] + "'";
  }
  std::string body = "set title 'Accuracy vs. speedup'\nset xlabel 'speedup over the full model (x)'\n"
                     "set ylabel 'accuracy (%)'\nset grid\nset key bottom left\n" + plots + "\n";
  return render(dir, "tradeoff", data.str(), body);
}

std::vector<std::string> plot_sweep(const SearchResult& search, const std::string& dir, const std::string& stem) {
  std::ostringstream data;
  std::vector<std::string> stages;
  for (const auto& row : search.sweep)
    if (std::find(stages.begin(), stages.end(), row.stage) == stages.end()) stages.push_back(row.stage);
  for (const auto& st : stages) {
    data << "# stage " << st << "\n# k accuracy(%) latency(s) tokens chosen\n";
    for (const auto& row : search.sweep)
      if (row.stage == st)
        data << row.k << " " << fmt("%.3f", 100 * row.point.accuracy) << " " << fmt("%.5f", row.point.latency) << " "
             << fmt("%.2f", row.point.tokens) << " " << (row.chosen ? 1 : 0) << "\n";
    data << "\n\n";
  }
  std::string acc, lat;
  for (size_t i = 0; i < stages.size(); ++i) {
    acc += std::string(i ? ", " : "plot ") + "datafile index " + std::to_string(i) +
           " using 1:2 with linespoints pt 7 title '" + stages[i] + "'";
    lat += std::string(i ? ", " : "plot ") + "datafile index " + std::to_string(i) +
           " using 1:3 with linespoints pt 7 title '" + stages[i] + "'";
  }
  std::string body = "set multiplot layout 1,2 title 'Stage-wise sweep (" + search.method + ")'\n"
                     "set xlabel 'k (sub-layers skipped in the stage)'\nset grid\n"
                     "set ylabel 'accuracy (%)'\nset arrow from graph 0, first " + fmt("%.3f", 100 * search.target) +
                     " to graph 1, first " + fmt("%.3f", 100 * search.target) + " nohead dt 2\n" + acc +
                     "\nunset arrow\nset ylabel 'latency per question (s)'\n" + lat + "\nunset multiplot\n";
  return render(dir, stem, data.str(), body);
}

std::vector<std::string> plot_importance(const ImportanceResult& imp, const std::string& dir) {
  // Matrix: rows = (stage, kind) pairs, columns = layers.
  std::ostringstream data;
  std::vector<std::string> rows;
  for (const auto& [kind, st] : imp.stages) {
    for (int k = 0; k < 2; ++k) {
      rows.push_back(std::string(to_string(kind)) + (k == 0 ? " attn" : " ffn"));
      const auto& v = k == 0 ? st.attn : st.ffn;
      for (size_t l = 0; l < v.size(); ++l) data << (l ? " " : "") << fmt("%.5f", v[l]);
      data << "\n";
    }
  }
  std::string ytics;
  for (size_t i = 0; i < rows.size(); ++i) ytics += (i ? ", " : "") + std::string("'") + rows[i] + "' " + std::to_string(i);
  std::string body = "set title 'Sub-layer similarity cos(in, out) per stage (high = redundant)'\n"
                     "set xlabel 'layer'\nset ytics (" + ytics + ")\nset cblabel 'cos'\n"
                     "set palette rgb 33,13,10\nset xrange [-0.5:" + std::to_string(imp.layers - 0.5) +
                     "]\nset yrange [-0.5:" + std::to_string(rows.size() - 0.5) + "]\n"
                     "plot datafile matrix with image notitle\n";
  return render(dir, "importance", data.str(), body);
}

}  // namespace litestage
