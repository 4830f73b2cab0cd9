import java.nio.*; import java.nio.channels.*; import java.nio.file.*; import java.util.*; import java.util.concurrent.*; import java.util.concurrent.atomic.*;
/**
 * The fake S3's durable PUT, three ways, N threads for D seconds on the repository's disk:
 *   dir: create a temp file, write, fsync, rename, fsync the directory (DirectoryBackend today)
 *   wal: the same file without its fsyncs, the bytes appended to one preallocated log file with
 *        group-committed fdatasync (a write-ahead log in front of the directory)
 *   seg: only the append to the preallocated log with group-committed fdatasync (a segment store)
 * Usage: java PutPaths.java dir|wal|seg THREADS BYTES SECONDS DIR   (a throwaway measuring tool)
 */
public class PutPaths {
  static Path dir; static final Object mon = new Object(); static long writePos=0, syncedPos=0; static boolean syncing=false; static FileChannel wal;
  public static void main(String[] a) throws Exception {
    String mode=a[0]; int threads=Integer.parseInt(a[1]); int size=Integer.parseInt(a[2]); int secs=Integer.parseInt(a[3]);
    dir=Paths.get(a[4]); Files.createDirectories(dir);
    if(!mode.equals("dir")){ Path w=dir.resolve("wal"); wal=FileChannel.open(w,StandardOpenOption.CREATE,StandardOpenOption.WRITE,StandardOpenOption.READ);
      ByteBuffer z=ByteBuffer.allocate(1<<20); for(int i=0;i<256;i++){z.clear(); wal.write(z,(long)i<<20);} wal.force(true); }
    AtomicLong ctr=new AtomicLong(); ConcurrentLinkedQueue<Long> lat=new ConcurrentLinkedQueue<>();
    long end=System.nanoTime()+secs*1_000_000_000L; List<Thread> ts=new ArrayList<>();
    byte[] content=new byte[size]; new Random(1).nextBytes(content);
    for(int t=0;t<threads;t++){ Thread th=new Thread(()->{ try{ while(System.nanoTime()<end){ long s=System.nanoTime(); long n=ctr.incrementAndGet();
      Path tmp=dir.resolve(".tmp-"+n); Path fin=dir.resolve("k-"+n); boolean seg=mode.equals("seg");
      if(!seg) try(FileChannel ch=FileChannel.open(tmp,StandardOpenOption.CREATE_NEW,StandardOpenOption.WRITE)){ ch.write(ByteBuffer.wrap(content)); if(mode.equals("dir")) ch.force(true);}
      if(!mode.equals("dir")){ long my; synchronized(mon){ my=writePos; writePos+=size+64; if(writePos> (256L<<20)) { writePos=0; my=0;} }
        wal.write(ByteBuffer.wrap(content), my); long target=my+size;
        // group commit
        while(true){ boolean lead=false; synchronized(mon){ if(syncedPos>=target && !syncing) break; if(!syncing){syncing=true;lead=true;} else { mon.wait(); continue; } }
          if(lead){ long upto; synchronized(mon){upto=writePos;} wal.force(false); synchronized(mon){ syncedPos=Math.max(syncedPos,upto); syncing=false; mon.notifyAll(); } if(upto>=target) break; } }
      }
      if(!seg) Files.move(tmp,fin,StandardCopyOption.ATOMIC_MOVE);
      if(mode.equals("dir")) try(FileChannel d=FileChannel.open(dir,StandardOpenOption.READ)){d.force(true);}
      lat.add(System.nanoTime()-s); } }catch(Exception e){throw new RuntimeException(e);} }); ts.add(th); th.start(); }
    for(Thread th:ts) th.join();
    long[] l=lat.stream().mapToLong(x->x).sorted().toArray();
    System.out.printf("%s threads=%d size=%d: %d puts, %.0f/s, p50 %.2f ms p99 %.2f ms max %.2f ms%n",mode,threads,size,l.length,l.length/(double)secs,l[l.length/2]/1e6,l[(int)(l.length*0.99)]/1e6,l[l.length-1]/1e6);
  }
}
