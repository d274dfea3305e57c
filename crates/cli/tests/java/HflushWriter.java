// Hadoop 3.3.4's Java client writing one file with an hflush after every piece, for
// the DataNode restart test (crates/cli/tests/datanode_restart.rs). Compiled by the
// test with javac against hadoop-client-api/-runtime.
//
//   java HflushWriter <fs.defaultFS> <path> <bytes> <piece> <pause ms> <block size>
//
// Byte i of the file is (i*131 + 2 + i/251) % 253, as the test's payload(len, 2).
// Prints "written <n>" after each hflush and "done" after close; any failure goes to
// stderr and exits 1.

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

public class HflushWriter {
    public static void main(String[] args) throws Exception {
        Configuration conf = new Configuration();
        conf.set("fs.defaultFS", args[0]);
        long total = Long.parseLong(args[2]);
        int piece = Integer.parseInt(args[3]);
        long pause = Long.parseLong(args[4]);
        long blockSize = Long.parseLong(args[5]);
        FileSystem fs = FileSystem.get(conf);
        byte[] buf = new byte[piece];
        try (FSDataOutputStream out = fs.create(new Path(args[1]), true, 4096, (short) 3, blockSize)) {
            long off = 0;
            while (off < total) {
                int n = (int) Math.min(piece, total - off);
                for (int j = 0; j < n; j++) {
                    long i = off + j;
                    buf[j] = (byte) ((i * 131 + 2 + i / 251) % 253);
                }
                out.write(buf, 0, n);
                out.hflush();
                off += n;
                System.out.println("written " + off);
                System.out.flush();
                Thread.sleep(pause);
            }
        }
        System.out.println("done");
        System.out.flush();
    }
}
