// ferrodfs `bench io`: Hadoop's Java client timed inside one JVM (start-up excluded).
//
// Compiled at bench time against hadoop-client-api/-runtime 3.3.4. Reads commands from
// stdin, one a line, and answers one line each on stdout:
//   write <path> <bytes> <blockSize> <replication>  -> ok <nanoseconds>
//   read <path>                                     -> ok <nanoseconds> <bytes read>
//   delete <path>                                   -> ok 0
//   quit
// Any failure answers `err <exception>`. Data: a 1 MiB buffer written over and over,
// byte i of a file = buffer[i % 1 MiB], the same bytes the Rust peers write.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

public class BenchIo {
    public static void main(String[] args) throws Exception {
        Configuration conf = new Configuration();
        conf.set("fs.defaultFS", args[0]);
        FileSystem fs = FileSystem.get(conf);
        byte[] pattern = new byte[1 << 20];
        // The pattern comes from a file the Rust side wrote (args[1]), so every peer
        // writes the same bytes.
        try (java.io.FileInputStream f = new java.io.FileInputStream(args[1])) {
            int off = 0;
            while (off < pattern.length) {
                int n = f.read(pattern, off, pattern.length - off);
                if (n < 0) {
                    throw new java.io.EOFException("pattern file shorter than 1 MiB");
                }
                off += n;
            }
        }
        byte[] buf = new byte[1 << 20];
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        PrintStream out = System.out;
        out.println("ready");
        out.flush();
        String line;
        while ((line = in.readLine()) != null) {
            String[] w = line.trim().split(" ");
            try {
                if (w[0].equals("quit")) {
                    break;
                } else if (w[0].equals("write")) {
                    Path p = new Path(w[1]);
                    long size = Long.parseLong(w[2]);
                    long blockSize = Long.parseLong(w[3]);
                    short replication = Short.parseShort(w[4]);
                    long t = System.nanoTime();
                    try (FSDataOutputStream o = fs.create(p, true, 65536, replication, blockSize)) {
                        long left = size;
                        while (left > 0) {
                            int n = (int) Math.min(left, pattern.length);
                            o.write(pattern, 0, n);
                            left -= n;
                        }
                    }
                    out.println("ok " + (System.nanoTime() - t));
                } else if (w[0].equals("read")) {
                    long t = System.nanoTime();
                    long total = 0;
                    try (FSDataInputStream i = fs.open(new Path(w[1]))) {
                        int n;
                        while ((n = i.read(buf, 0, buf.length)) >= 0) {
                            total += n;
                        }
                    }
                    out.println("ok " + (System.nanoTime() - t) + " " + total);
                } else if (w[0].equals("delete")) {
                    fs.delete(new Path(w[1]), false);
                    out.println("ok 0");
                } else {
                    out.println("err unknown command " + w[0]);
                }
            } catch (Exception e) {
                out.println("err " + e.toString().replace('\n', ' '));
            }
            out.flush();
        }
        fs.close();
    }
}
